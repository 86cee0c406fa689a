import EventAckReconciler
import HummingbirdWebSocket
import NIOCore
import NIOWebSocket

/// The EventAck `ServerConnection` over a hummingbird-websocket connection.
///
/// ``EventAckWebSocket/serverBuilder(service:authenticator:limits:maxFrameBytes:path:tickets:origins:isShuttingDown:observe:)`` uses it
/// for every upgraded connection; call ``serve(_:principal:inbound:outbound:maxFrameBytes:channel:observe:)`` yourself
/// from a WebSocket route of your own. It reassembles fragmented messages itself instead of using the library's
/// `messages(maxSize:)`, so that every frame gets the answer the spec asks for (EA-MSG-1, EA-MSG-8, EA-MSG-12):
/// a text message is handed over as unvalidated bytes (invalid UTF-8 is answered with `malformed_json`, never
/// repaired), a message over the frame limit is discarded unread and answered with `frame_too_large` (the
/// connection survives; no 1009 close), and a binary message is answered with `malformed_json`.
public struct WebSocketServerConnection: ServerConnection {
    let outbound: WebSocketOutboundWriter
    /// The socket, to drop a peer that does not read: a WebSocket close would wait to write its frame.
    let channel: (any Channel)?

    public func send(_ text: String) async throws {
        try await outbound.write(.text(text))
    }

    /// Writes the frames on the channel's event loop in one go and flushes once; returns when the last is written
    /// to the socket, which is the writer's backpressure. hummingbird-websocket's writer flushes every frame: one
    /// `writev` per event was most of the server's CPU at high rates. The frames are laid out, headers and all, in
    /// buffers of 16 KB written from the frame encoder's place in the pipeline (`FrameBatch`): one pipeline write
    /// and one iovec per 50 events instead of two of each per frame. Data frames only — the library still writes
    /// pongs and the close frame through the encoder, on the same event loop, in order.
    public func send(contentsOf texts: [String]) async throws {
        guard let channel, !texts.isEmpty else {
            for text in texts { try await send(text) }
            return
        }
        let written = channel.eventLoop.makePromise(of: Void.self)
        // The writer task runs on this event loop (``writerExecutor``): write at once rather than queue a job.
        channel.eventLoop.executeInLoop {
            guard let encoder = try? channel.pipeline.syncOperations.context(handlerType: WebSocketFrameEncoder.self)
            else {
                for (index, text) in texts.enumerated() {
                    let frame = WebSocketFrame(fin: true, opcode: .text, data: channel.allocator.buffer(string: text))
                    channel.write(frame, promise: index == texts.count - 1 ? written : nil)
                }
                return channel.flush()
            }
            let chunks = FrameBatch.textFrames(texts, allocator: channel.allocator)
            for (index, chunk) in chunks.enumerated() {
                encoder.write(NIOAny(chunk), promise: index == chunks.count - 1 ? written : nil)
            }
            encoder.flush()
        }
        try await written.futureResult.get()
    }

    public func close() async {
        try? await outbound.close(.normalClosure, reason: nil)
    }

    /// The service's writer for this connection runs on the channel's event loop: a queued frame then wakes that one
    /// thread, not a pool thread that hands it over to the event loop (a wake-up each, tens of µs on a busy machine).
    public var writerExecutor: (any TaskExecutor)? { channel.map { EventLoopTaskExecutor($0.eventLoop) } }

    public func abort() async {
        guard let channel else { return await close() }
        try? await channel.close().get()
    }

    /// Serves one upgraded WebSocket with `service`, for `principal`, until it closes. Each message goes from
    /// hummingbird-websocket's inbound loop straight to the service (`ReconcilerService/open(_:principal:observe:)`),
    /// without a stream and a task of the service's own in between.
    public static func serve(
        _ service: ReconcilerService,
        principal: String,
        inbound: WebSocketInboundStream,
        outbound: WebSocketOutboundWriter,
        maxFrameBytes: Int,
        channel: (any Channel)? = nil,
        observe: (@Sendable (SessionID?, String) -> Void)? = nil
    ) async throws {
        let connection = WebSocketServerConnection(outbound: outbound, channel: channel)
        guard let served = service.open(connection, principal: principal, observe: observe) else {
            await connection.close()
            return
        }
        do {
            var assembler = MessageAssembler(limit: maxFrameBytes)
            for try await frame in inbound {
                if let message = try assembler.add(frame), !served.receive(message) { break }
            }
        } catch {
            // A protocol violation or a failed connection ends like a closed one.
        }
        await served.end()
    }
}

/// Collects the frames of one message, keeping at most `limit + 1` bytes: beyond that it only counts.
struct MessageAssembler {
    let limit: Int
    private var bytes: [UInt8] = []
    private var size = 0
    private var isText = false
    private var inMessage = false

    init(limit: Int) { self.limit = limit }

    struct ProtocolViolation: Error {}

    mutating func add(_ frame: WebSocketDataFrame) throws -> InboundFrame? {
        switch frame.opcode {
        case .text, .binary:
            guard !inMessage else { throw ProtocolViolation() }
            (inMessage, isText, size) = (true, frame.opcode == .text, 0)
            bytes.removeAll(keepingCapacity: bytes.capacity <= 65_536)
        case .continuation:
            guard inMessage else { throw ProtocolViolation() }
        }
        var data = frame.data
        size += data.readableBytes
        if isText, bytes.count <= limit,
            let chunk = data.readBytes(length: min(data.readableBytes, limit + 1 - bytes.count))
        {
            bytes += chunk
        }
        guard frame.fin else { return nil }
        inMessage = false
        guard isText else { return .binary }
        if size > limit { return .oversized(byteCount: size) }
        return .textBytes(bytes)
    }
}
