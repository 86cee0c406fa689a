@_spi(Shell) import EventAckProtocol
import Synchronization

/// Opens connections to an EventAck server. Implement it over any ordered, message-framed channel (a WebSocket
/// with subprotocol `eventack.v1`); `Examples/LinuxClient` has one over SwiftNIO's WebSocket.
///
/// The client always calls ``connect(handingFramesTo:)``. A transport that implements only ``connect()`` works:
/// the client then reads ``ClientConnection/inbound`` through a task of its own. A transport that hands each
/// received frame straight to ``InboundFrames`` saves that task and a stream per frame.
public protocol ClientTransport: Sendable {
    /// Opens a new connection, or throws when the server cannot be reached.
    func connect() async throws -> any ClientConnection

    /// Opens a new connection that hands every frame it receives to `inbound`, in order, and ends `inbound` when
    /// the connection ends; ``ClientConnection/inbound`` is then not read. Throws, without touching `inbound`,
    /// when the server cannot be reached.
    func connect(handingFramesTo inbound: InboundFrames) async throws -> any ClientConnection
}

extension ClientTransport {
    /// Connects with ``connect()`` and moves ``ClientConnection/inbound`` to `inbound` in a task of its own.
    public func connect(handingFramesTo inbound: InboundFrames) async throws -> any ClientConnection {
        let connection = try await connect()
        Task.detached {
            do {
                for try await frame in connection.inbound {
                    guard inbound.receive(frame) else { break }
                }
                inbound.end()
            } catch {
                inbound.end(throwing: error)  // the connection failed: the client handles it as closed
            }
        }
        return connection
    }
}

/// One open connection: text frames both ways.
public protocol ClientConnection: Sendable {
    /// The frames received, in order; finishes (or throws) when the connection ends. Not read when the transport
    /// hands frames over itself (``ClientTransport/connect(handingFramesTo:)``).
    var inbound: AsyncThrowingStream<String, any Error> { get }
    /// Sends one text frame.
    func send(_ text: String) async throws
    /// Closes the connection; `inbound` finishes.
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

    /// Every frame waiting, once there is one; `nil` once ended and empty.
    func take() async -> [String]? {
        guard let frames = await queue.next() else { return nil }
        var bytes = 0
        for frame in frames { bytes += frame.utf8.count }
        pendingBytes.subtract(bytes, ordering: .relaxed)
        return frames
    }

    /// Whether the connection was cut because too much waited for the client.
    var didOverflow: Bool { overflowed.load(ordering: .relaxed) }
}
