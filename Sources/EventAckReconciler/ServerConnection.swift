/// A frame as the transport delivered it: the service answers each as the spec says (EA-MSG-1, EA-MSG-12).
public enum InboundFrame: Sendable, Hashable {
    /// A text frame already known to be valid UTF-8.
    case text(String)
    /// The bytes of a text message, not yet validated: invalid UTF-8 is answered with `malformed_json`, and a
    /// message above the frame limit with `frame_too_large`, never repaired or silently cut.
    case textBytes([UInt8])
    /// A binary message: answered with a non-fatal `malformed_json`.
    case binary
    /// A text message of `byteCount` bytes that the transport discarded unread because it exceeds the frame limit:
    /// answered with a non-fatal `frame_too_large` (EA-MSG-8) without holding the bytes.
    case oversized(byteCount: Int)
}

/// One accepted connection, the side the ``ReconcilerService`` writes to. Implement it over a WebSocket (subprotocol
/// `eventack.v1`) after authenticating the upgrade; `Examples/AgentServer`'s `EventAckHummingbird` has one for
/// hummingbird-websocket.
///
/// One model: the host pushes. It opens the connection with ``ReconcilerService/open(_:principal:observe:)`` and
/// hands every frame it reads to ``ServedConnection/receive(_:)`` from its own I/O loop.
public protocol ServerConnection: Sendable {
    /// Sends one text frame.
    func send(_ text: String) async throws
    /// Sends text frames in order: what was queued for the connection while the last batch was being written.
    /// Adapters that can should write them all and flush once (one system call for a burst instead of one per
    /// frame), and return once they are written or buffered by the transport. By default, ``send(_:)`` for each.
    func send(contentsOf texts: [String]) async throws
    /// Closes the connection.
    func close() async
    /// Drops the connection at once, with no closing handshake: for a peer that does not read, to which nothing more
    /// can be written. By default ``close()``; adapters whose close writes a frame should close the socket here.
    func abort() async
    /// Where the service's writer task for this connection should run: the connection's own I/O thread (its event
    /// loop), so that a frame the reconciler queues wakes that thread alone instead of a task on the global pool and
    /// then the I/O thread. `nil` (the default) runs it on the global executor.
    var writerExecutor: (any TaskExecutor)? { get }
}

extension ServerConnection {
    public func abort() async { await close() }

    public var writerExecutor: (any TaskExecutor)? { nil }

    public func send(contentsOf texts: [String]) async throws {
        for text in texts { try await send(text) }
    }
}
