@_spi(Shell) import EventAckProtocol

/// Opens connections to an EventAck server. Implement it over any ordered, message-framed channel (a WebSocket
/// with subprotocol `eventack.v1`); `Examples/` has one over swift-websocket.
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
public final class InboundFrames: Sendable {
    let queue = BatchQueue<String>()

    /// An empty hand-over; the client makes one per connection attempt.
    public init() {}

    /// Hands over one received text frame. Returns `false` once the client stopped reading this connection: stop
    /// handing frames over (the client closes the connection).
    @discardableResult
    public func receive(_ text: String) -> Bool {
        queue.push(text) != .finished
    }

    /// The connection ended: cleanly (`nil`), or with `error`. Frames handed over before are still processed.
    public func end(throwing error: (any Error)? = nil) {
        queue.finish(throwing: error)
    }
}
