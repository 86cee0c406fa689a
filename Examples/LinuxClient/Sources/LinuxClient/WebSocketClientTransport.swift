import EventAckClient
import Logging
import WSClient

/// EventAck's `ClientTransport` over swift-websocket's `WebSocketClient`: one WebSocket per connection, subprotocol
/// `eventack.v1`, authenticated with a bearer token. Copy this file into your app; it is the whole adapter.
///
/// `WebSocketClient` runs a handler for the lifetime of a connection, while EventAck wants a connection object
/// (`inbound` frames, `send`, `close`). The adapter runs the handler in a task and bridges both ways with two
/// streams; `connect()` returns once the upgrade succeeded, or throws if it failed (refused token, no server).
struct WebSocketClientTransport: ClientTransport {
    var url: String
    var token: String
    var maxFrameBytes = 1 << 20
    var logger = Logger(label: "eventack.websocket")

    func connect() async throws -> any EventAckConnection {
        let (frames, received) = AsyncThrowingStream<String, any Error>.makeStream()
        let (outgoing, toSend) = AsyncStream<String>.makeStream()
        var configuration = WebSocketClientConfiguration(maxFrameSize: maxFrameBytes)
        configuration.additionalHeaders[.authorization] = "Bearer \(token)"
        configuration.additionalHeaders[.secWebSocketProtocol] = "eventack.v1"
        let (opened, open) = AsyncThrowingStream<Void, any Error>.makeStream()
        let (url, logger, maxFrameBytes) = (url, logger, maxFrameBytes)
        let task = Task {
            do {
                try await WebSocketClient.connect(url: url, configuration: configuration, logger: logger) {
                    inbound, outbound, _ in
                    open.yield()
                    open.finish()
                    try await withThrowingTaskGroup(of: Void.self) { group in
                        group.addTask {
                            for await text in outgoing { try await outbound.write(.text(text)) }
                            // `close()` finished the stream: close the WebSocket properly.
                            try await outbound.close(.normalClosure, reason: nil)
                        }
                        for try await message in inbound.messages(maxSize: maxFrameBytes) {
                            if case .text(let text) = message { received.yield(text) }
                        }
                        group.cancelAll()
                    }
                }
                received.finish()
            } catch {
                received.finish(throwing: error)
            }
            open.finish(throwing: ConnectionEnded())
        }
        do {
            for try await _ in opened { break }
        } catch {
            task.cancel()
            throw error
        }
        return WebSocketConnection(inbound: frames, toSend: toSend, task: task)
    }
}

/// One open WebSocket, as EventAck sees it.
struct WebSocketConnection: EventAckConnection {
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
