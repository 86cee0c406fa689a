import EventAckClient
import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOWebSocket

/// EventAck's `ClientTransport` over SwiftNIO's WebSocket: one WebSocket per connection, subprotocol `eventack.v1`,
/// authenticated with a bearer token.
///
/// ```swift
/// import EventAckClient
/// import EventAckNIOClient
///
/// let client = EventAckClient(transport: WebSocketClientTransport(url: "ws://127.0.0.1:8080/eventack", token: token))
/// await client.start()
/// for await delivery in client.events { … }
/// ```
///
/// Received text frames go from the channel's handler straight to the client's `InboundFrames`, on the event
/// loop: no task, stream or actor hop per frame, which is most of what a client spends per event besides decoding
/// it. `connect` returns once the upgrade succeeded, or throws if it failed (refused token, no server).
///
/// `wss://` with the package trait `TLS` (`swift build --traits TLS`, swift-nio-ssl; `WebSocketTLS.swift`); by
/// default the package builds SwiftNIO alone and takes `ws://` only.
public struct WebSocketClientTransport: ClientTransport {
    /// The server's `ws://` (or `wss://`) URL.
    public var url: String
    /// The bearer token sent with the upgrade request.
    public var token: String
    /// The largest message accepted, fragments included.
    public var maxFrameBytes = 1 << 20
    /// How long a TCP connect may take.
    public var connectTimeout = TimeAmount.seconds(10)
    /// How long the server may take to answer the upgrade request: a server that accepts and then says nothing
    /// must fail the attempt (and so show as `connectFailed`), not hang the client.
    public var upgradeTimeout = TimeAmount.seconds(10)
    /// For `wss://`: a PEM file of the certificate authorities to trust instead of the system's.
    public var caFile: String?

    /// A transport to `url` that authenticates with `token`; `caFile` (PEM) replaces the system's trust roots for
    /// `wss://`.
    public init(url: String, token: String, caFile: String? = nil) {
        self.url = url
        self.token = token
        self.caFile = caFile
    }

    /// Throws ``UnsupportedURL`` for a URL this transport cannot open (not `ws://`, or `wss://` without the `TLS`
    /// trait): check it up front, since a client retries a failing connection for ever.
    public static func validate(url: String) throws {
        _ = try WebSocketTarget(url)
    }

    public func connect(handingFramesTo inbound: InboundFrames) async throws -> any ClientConnection {
        let channel = try await open(inbound)
        return WebSocketConnection(channel: channel)
    }

    private enum Upgrade: Sendable {
        case upgraded(any Channel)
        case refused
    }

    /// Connects and upgrades; returns the channel, its handler handing received messages to `inbound`.
    private func open(_ inbound: InboundFrames) async throws -> any Channel {
        let target = try WebSocketTarget(url)
        var headers = HTTPHeaders()
        headers.add(name: "Host", value: target.hostHeader)
        headers.add(name: "Authorization", value: "Bearer \(token)")
        headers.add(name: "Sec-WebSocket-Protocol", value: "eventack.v1")
        let head = HTTPRequestHead(version: .http1_1, method: .GET, uri: target.path, headers: headers)
        let (maxFrameBytes, upgradeTimeout, caFile) = (self.maxFrameBytes, self.upgradeTimeout, self.caFile)
        let upgrader = NIOTypedWebSocketClientUpgrader<Upgrade>(
            maxFrameSize: maxFrameBytes,
            upgradePipelineHandler: { channel, _ in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(
                        WebSocketFrameHandler(inbound, maxMessageBytes: maxFrameBytes))
                    return .upgraded(channel)
                }
            })
        let upgrade = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connectTimeout(connectTimeout)
            .connect(host: target.host, port: target.port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    if target.isSecure {
                        try channel.pipeline.syncOperations.addHandler(
                            WebSocketTLS.handler(host: target.host, caFile: caFile))
                    }
                    let upgraded = try channel.pipeline.syncOperations.configureUpgradableHTTPClientPipeline(
                        configuration: NIOUpgradableHTTPClientPipelineConfiguration(
                            upgradeConfiguration: NIOTypedHTTPClientUpgradeConfiguration(
                                upgradeRequestHead: head, upgraders: [upgrader],
                                notUpgradingCompletionHandler: { channel in
                                    channel.eventLoop.makeSucceededFuture(.refused)
                                })))
                    let timeout = channel.eventLoop.scheduleTask(in: upgradeTimeout) {
                        channel.pipeline.fireErrorCaught(UpgradeTimedOut(after: upgradeTimeout))
                        channel.close(promise: nil)
                    }
                    upgraded.whenComplete { _ in timeout.cancel() }
                    return upgraded
                }
            }
        switch try await upgrade.get() {
        case .upgraded(let channel):
            return channel
        case .refused:
            throw UpgradeRefused(url: url)
        }
    }
}

/// One open WebSocket, as EventAck sees it.
struct WebSocketConnection: ClientConnection {
    let channel: any Channel

    func send(_ text: String) async throws {
        guard channel.isActive else { throw ConnectionEnded() }
        // Not awaited: the event loop writes frames in the order they are handed over, and the client's acks are
        // coalesced, so waiting for each write would only add a hop to every ack.
        channel.writeAndFlush(WebSocketFrame.text(text, allocator: channel.allocator), promise: nil)
    }

    func close() async {
        // A close frame, answered by the server's; the handler closes the channel then, or after a grace period.
        channel.pipeline.fireUserInboundEventTriggered(WebSocketFrameHandler.CloseRequested())
        try? await channel.closeFuture.get()
    }
}

/// Where a `ws://` (or, with the `TLS` trait, `wss://`) URL points.
struct WebSocketTarget {
    var host: String
    var port: Int
    var isSecure: Bool
    /// Path and query, as the request line has them.
    var path: String
    var hostHeader: String

    init(_ url: String) throws {
        let schemes = WebSocketTLS.isAvailable ? ["ws", "wss"] : ["ws"]
        guard let components = URLComponents(string: url), let scheme = components.scheme, schemes.contains(scheme),
            let host = components.host, !host.isEmpty
        else { throw UnsupportedURL(url: url) }
        self.host = host
        isSecure = scheme == "wss"
        port = components.port ?? (isSecure ? 443 : 80)
        let query = components.percentEncodedQuery.map { "?\($0)" } ?? ""
        path = (components.percentEncodedPath.isEmpty ? "/" : components.percentEncodedPath) + query
        hostHeader = components.port.map { "\(host):\($0)" } ?? host
    }
}

/// The server answered the upgrade with something other than `101 Switching Protocols` (an unknown token, or not an
/// EventAck endpoint).
public struct UpgradeRefused: Error, CustomStringConvertible {
    /// The URL.
    public var url: String
    public var description: String { "the server at \(url) refused the WebSocket upgrade (unknown token?)" }
}

/// The server accepted the connection but did not answer the upgrade request in time.
public struct UpgradeTimedOut: Error, CustomStringConvertible {
    /// How long it was given.
    public var after: TimeAmount
    public var description: String {
        "the server did not answer the WebSocket upgrade within \(after.nanoseconds / 1_000_000_000) s"
    }
}

/// A URL this transport cannot open.
public struct UnsupportedURL: Error, CustomStringConvertible {
    /// The URL.
    public var url: String
    public var description: String {
        WebSocketTLS.isAvailable
            ? "not a ws:// or wss://host[:port]/path URL: \(url)"
            : "not a ws://host[:port]/path URL: \(url) (wss:// needs the example built with --traits TLS)"
    }
}

/// The connection ended before a frame could be sent.
public struct ConnectionEnded: Error, CustomStringConvertible {
    public var description: String { "the WebSocket connection ended" }
}
