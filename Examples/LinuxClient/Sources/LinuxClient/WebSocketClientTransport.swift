import EventAckClient
import Logging
import Synchronization
import WSClient

/// EventAck's `ClientTransport` over swift-websocket's `WebSocketClient`: one WebSocket per connection, subprotocol
/// `eventack.v1`, authenticated with a bearer token. Copy this file into your app; it is the whole adapter.
///
/// `WebSocketClient` runs a handler for the lifetime of a connection, while EventAck wants a connection object
/// (frames in, `send`, `close`). The adapter runs the handler in a task: received frames go straight to the client's
/// `InboundFrames` (or, through `connect()`, to a stream), frames to send come through a stream; `connect` returns
/// once the upgrade succeeded, or throws if it failed (refused token, no server).
struct WebSocketClientTransport: ClientTransport {
    var url: String
    var token: String
    var maxFrameBytes = 1 << 20
    var logger = Logger(label: "eventack.websocket")

    func connect(handingFramesTo inbound: InboundFrames) async throws -> any EventAckConnection {
        try await open(
            WebSocketConnection.Inbound(
                receive: { inbound.receive($0) }, end: { inbound.end(throwing: $0) }, stream: nil))
    }

    func connect() async throws -> any EventAckConnection {
        let (frames, received) = AsyncThrowingStream<String, any Error>.makeStream()
        return try await open(
            WebSocketConnection.Inbound(
                receive: {
                    if case .terminated = received.yield($0) { return false }
                    return true
                }, end: { received.finish(throwing: $0) }, stream: frames))
    }

    private func open(_ inbound: WebSocketConnection.Inbound) async throws -> any EventAckConnection {
        let (outgoing, toSend) = AsyncStream<String>.makeStream()
        var configuration = WebSocketClientConfiguration(maxFrameSize: maxFrameBytes)
        configuration.additionalHeaders[.authorization] = "Bearer \(token)"
        configuration.additionalHeaders[.secWebSocketProtocol] = "eventack.v1"
        let (opened, open) = AsyncThrowingStream<Void, any Error>.makeStream()
        let (url, logger, maxFrameBytes) = (url, logger, maxFrameBytes)
        let task = Task {
            // Only a connection that opened ends `inbound`: a failed attempt leaves it to the next one (failover).
            let upgraded = Mutex(false)
            do {
                try await WebSocketClient.connect(url: url, configuration: configuration, logger: logger) {
                    frames, outbound, _ in
                    upgraded.withLock { $0 = true }
                    open.yield()
                    open.finish()
                    try await withThrowingTaskGroup(of: Void.self) { group in
                        group.addTask {
                            for await text in outgoing { try await outbound.write(.text(text)) }
                            // `close()` finished the stream: close the WebSocket properly.
                            try await outbound.close(.normalClosure, reason: nil)
                        }
                        for try await message in frames.messages(maxSize: maxFrameBytes) {
                            if case .text(let text) = message, !inbound.receive(text) { break }
                        }
                        group.cancelAll()
                    }
                }
                if upgraded.withLock({ $0 }) { inbound.end(nil) }
            } catch {
                if upgraded.withLock({ $0 }) { inbound.end(error) }
            }
            open.finish(throwing: ConnectionEnded())
        }
        do {
            for try await _ in opened { break }
        } catch {
            task.cancel()
            throw error
        }
        return WebSocketConnection(
            inbound: inbound.stream ?? AsyncThrowingStream { $0.finish() }, toSend: toSend, task: task)
    }
}

/// One open WebSocket, as EventAck sees it.
struct WebSocketConnection: EventAckConnection {
    /// Where received frames go: the client's `InboundFrames`, or the stream of `connect()`.
    struct Inbound: Sendable {
        /// Hands over a frame; `false` when nobody reads any more.
        let receive: @Sendable (String) -> Bool
        let end: @Sendable ((any Error)?) -> Void
        let stream: AsyncThrowingStream<String, any Error>?
    }

    let inbound: AsyncThrowingStream<String, any Error>
    let toSend: AsyncStream<String>.Continuation
    let task: Task<Void, Never>

    func send(_ text: String) async throws {
        if case .terminated = toSend.yield(text) { throw ConnectionEnded() }
    }

    func close() async {
        toSend.finish()
        await task.value
    }
}

/// The connection ended before the upgrade completed or before a frame could be sent.
struct ConnectionEnded: Error, CustomStringConvertible {
    var description: String { "the WebSocket connection ended" }
}
