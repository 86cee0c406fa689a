import EventAckReconciler
import HummingbirdWebSocket

/// The EventAck `ServerConnection` over a hummingbird-websocket connection: text frames in, text frames out.
///
/// Copy this into your own server. `serve(_:principal:on:)` runs the reconciler service on one upgraded
/// connection until either side closes it; binary frames are not part of the protocol and are ignored.
struct WebSocketServerConnection: ServerConnection {
    let inbound: AsyncThrowingStream<String, any Error>
    let outbound: WebSocketOutboundWriter

    func send(_ text: String) async throws {
        try await outbound.write(.text(text))
    }

    func close() async {
        try? await outbound.close(.normalClosure, reason: nil)
    }

    /// Serves one upgraded WebSocket with `service`, for `principal`, until it closes.
    static func serve(
        _ service: ReconcilerService,
        principal: String,
        inbound: WebSocketInboundStream,
        outbound: WebSocketOutboundWriter,
        maxFrameBytes: Int,
        onFrame: (@Sendable (String) -> Void)? = nil
    ) async throws {
        let (frames, continuation) = AsyncThrowingStream<String, any Error>.makeStream()
        let connection = WebSocketServerConnection(inbound: frames, outbound: outbound)
        try await withThrowingTaskGroup(of: Void.self) { group in
            // The service reads `frames` in its own task; this task feeds it from the socket.
            group.addTask { await service.serve(connection, principal: principal) }
            do {
                for try await message in inbound.messages(maxSize: maxFrameBytes) {
                    guard case .text(let text) = message else { continue }
                    onFrame?(text)
                    continuation.yield(text)
                }
                continuation.finish()
            } catch {
                continuation.finish(throwing: error)
            }
            try await group.waitForAll()
        }
    }
}
