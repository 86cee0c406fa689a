@_spi(Shell) import EventAckProtocol
import Synchronization

/// Opens connections to an EventAck server. Implement it over any ordered, message-framed channel (a WebSocket
/// with subprotocol `eventack.v1`); `Examples/LinuxClient`'s `EventAckNIOClient` has one over SwiftNIO's WebSocket,
/// and `EventAckTesting` an in-memory one for tests.
///
/// One model: the transport pushes. It hands every frame it receives to the client's ``InboundFrames`` from its own
/// I/O loop, with no stream or task in between, and the client takes what arrived in one turn of its actor.
public protocol ClientTransport: Sendable {
    /// Opens a new connection that hands every frame it receives to `inbound`, in order, and ends `inbound` when
    /// the connection ends (with the error, if it failed). Throws, without touching `inbound`, when the server
    /// cannot be reached.
    func connect(handingFramesTo inbound: InboundFrames) async throws -> any ClientConnection
}

/// One open connection, the client's side of it: what the client sends. What it receives goes to the
/// ``InboundFrames`` it was opened with.
public protocol ClientConnection: Sendable {
    /// Sends one text frame.
    func send(_ text: String) async throws
    /// Closes the connection; the transport then ends its ``InboundFrames``.
    func close() async
}

/// Where a connection hands the frames it receives to the client, one connection's worth: the client takes every
/// frame that arrived since it last looked in one turn of its actor.
///
/// Bounded: a server that sends faster than the client can process, past ``maxPendingBytes`` waiting, is cut —
/// ``receive(_:)`` returns `false`, the transport closes the connection, and the client reconnects and resumes (the
/// server replays what was not acknowledged). Nothing is lost; memory stays bounded.
public final class InboundFrames: Sendable {
    let queue = BatchQueue<String>()
    /// Bytes handed over and not yet taken by the client.
    private let pendingBytes = Atomic<Int>(0)
    private let overflowed = Atomic<Bool>(false)
    /// The most bytes of frames that may wait for the client.
    public let maxPendingBytes: Int

    /// An empty hand-over; the client makes one per connection attempt.
    ///
    /// - Parameter maxPendingBytes: the most bytes of received frames that may wait for the client (128 MiB by
    ///   default: far above what a server's window lets it send before the client's acks).
    public init(maxPendingBytes: Int = 128 << 20) {
        self.maxPendingBytes = maxPendingBytes
    }

    /// Hands over one received text frame. Returns `false` once the client stopped reading this connection, or
    /// when the frames waiting for it exceed ``maxPendingBytes``: stop handing frames over and close the connection.
    @discardableResult
    public func receive(_ text: String) -> Bool {
        let waiting = pendingBytes.add(text.utf8.count, ordering: .relaxed).newValue
        guard waiting <= maxPendingBytes else {
            overflowed.store(true, ordering: .relaxed)
            queue.finish()
            return false
        }
        return queue.push(text) != .finished
    }

    /// The connection ended: cleanly (`nil`), or with `error`. Frames handed over before are still processed.
    public func end(throwing error: (any Error)? = nil) {
        queue.finish(throwing: error)
    }

    /// Every frame waiting, once there is one; `nil` once ended and empty (then ``failure`` says whether the
    /// connection failed). The client reads this; a transport that decorates another (to log, count or cut frames)
    /// hands the inner one an `InboundFrames` of its own and moves what it takes from there to the client's. Read by
    /// one task at a time.
    public func take() async -> [String]? {
        guard let frames = await queue.next() else { return nil }
        var bytes = 0
        for frame in frames { bytes += frame.utf8.count }
        pendingBytes.subtract(bytes, ordering: .relaxed)
        return frames
    }

    /// The error the connection ended with (``end(throwing:)``), if it failed.
    public var failure: (any Error)? { queue.failure }

    /// Whether the connection was cut because too much waited for the client.
    var didOverflow: Bool { overflowed.load(ordering: .relaxed) }
}
