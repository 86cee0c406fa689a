import NIOCore
import NIOHTTP1

/// Answers a WebSocket upgrade that lacks a valid bearer token with 401 (or 403) and a reason, as HTTP clients and
/// proxies expect (issue 14, defect 9), instead of the upgrade library's bare 400. It sits right after the HTTP
/// request decoder, so it sees the head before the upgrader does; everything else passes through untouched.
final class UpgradeGate: ChannelInboundHandler, RemovableChannelHandler, @unchecked Sendable {
    typealias InboundIn = HTTPServerRequestPart
    typealias InboundOut = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    typealias Refusal = UpgradeRefusal

    private let check: @Sendable (HTTPRequestHead) -> Refusal?
    private var refusing = false

    init(check: @escaping @Sendable (HTTPRequestHead) -> Refusal?) { self.check = check }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let part = unwrapInboundIn(data)
        if case .head(let head) = part, head.headers["upgrade"].first?.lowercased() == "websocket",
            let refusal = check(head)
        {
            refusing = true
            respond(refusal, context: context, version: head.version)
            return
        }
        guard !refusing else { return }  // the rest of a refused request
        context.fireChannelRead(data)
        if case .head(let head) = part, head.headers["upgrade"].first?.lowercased() == "websocket" {
            // An authorized upgrade: WebSocket frames, not HTTP parts, follow; this gate has done its job.
            context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
        }
    }

    private func respond(_ refusal: Refusal, context: ChannelHandlerContext, version: HTTPVersion) {
        let body = #"{"error":"\#(refusal.code)","message":"\#(refusal.message)"}"#
        var headers = HTTPHeaders([
            ("Content-Type", "application/json"), ("Content-Length", "\(body.utf8.count)"), ("Connection", "close"),
        ])
        if refusal.status == .unauthorized {
            headers.add(name: "WWW-Authenticate", value: "Bearer realm=\"eventack\", error=\"\(refusal.code)\"")
        }
        context.write(
            wrapOutboundOut(.head(HTTPResponseHead(version: version, status: refusal.status, headers: headers))),
            promise: nil)
        context.write(wrapOutboundOut(.body(.byteBuffer(ByteBuffer(string: body)))), promise: nil)
        let channel = context.channel
        context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in channel.close(promise: nil) }
    }
}

/// Why an EventAck upgrade is refused: the HTTP status, the error code (also `WWW-Authenticate`'s, for 401) and a
/// message, sent as a JSON `{"error", "message"}` body.
public struct UpgradeRefusal: Sendable, Hashable {
    /// The status.
    public var status: HTTPResponseStatus
    /// A stable code.
    public var code: String
    /// For people.
    public var message: String

    /// A refusal.
    public init(status: HTTPResponseStatus, code: String, message: String) {
        self.status = status
        self.code = code
        self.message = message
    }
}
