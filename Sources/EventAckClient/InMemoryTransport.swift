import Synchronization

/// A transport whose connections are in-process pipes, for tests and examples. Each ``connect()`` yields the
/// server's end of the new connection on ``accepted``.
public final class InMemoryClientTransport: ClientTransport {
    /// The server ends of connections, in the order clients connected.
    public let accepted: AsyncStream<InMemoryServerEnd>
    private let acceptedContinuation: AsyncStream<InMemoryServerEnd>.Continuation
    private let refusals = Mutex(0)

    /// Creates a transport with no connection yet.
    public init() {
        (accepted, acceptedContinuation) = AsyncStream.makeStream()
    }

    /// Makes the next `count` calls to ``connect()`` fail, as if the server were unreachable.
    public func refuseNextConnects(_ count: Int) {
        refusals.withLock { $0 += count }
    }

    public func connect() async throws -> any ClientConnection {
        let refuse = refusals.withLock { refused -> Bool in
            guard refused > 0 else { return false }
            refused -= 1
            return true
        }
        if refuse { throw InMemoryTransportError.refused }
        let (toServer, toServerContinuation) = AsyncThrowingStream<String, any Error>.makeStream()
        let (toClient, toClientContinuation) = AsyncThrowingStream<String, any Error>.makeStream()
        let client = InMemoryClientEnd(inbound: toClient, outbound: toServerContinuation, peer: toClientContinuation)
        acceptedContinuation.yield(
            InMemoryServerEnd(inbound: toServer, outbound: toClientContinuation, peer: toServerContinuation))
        return client
    }
}

/// Why an in-memory connection could not be made or used.
public enum InMemoryTransportError: Error, Sendable {
    /// ``InMemoryClientTransport/refuseNextConnects(_:)`` refused it.
    case refused
    /// The connection is closed.
    case closed
}

/// The client's end of an in-memory connection.
public struct InMemoryClientEnd: ClientConnection {
    public let inbound: AsyncThrowingStream<String, any Error>
    let outbound: AsyncThrowingStream<String, any Error>.Continuation
    let peer: AsyncThrowingStream<String, any Error>.Continuation

    public func send(_ text: String) async throws {
        if case .terminated = outbound.yield(text) { throw InMemoryTransportError.closed }
    }

    public func close() async {
        outbound.finish()
        peer.finish()
    }
}

/// The server's end of an in-memory connection: what tests and the reconciler's in-memory adapter use.
public struct InMemoryServerEnd: Sendable {
    /// Frames from the client.
    public let inbound: AsyncThrowingStream<String, any Error>
    let outbound: AsyncThrowingStream<String, any Error>.Continuation
    let peer: AsyncThrowingStream<String, any Error>.Continuation

    /// Sends a frame to the client; `false` when the connection is closed.
    @discardableResult
    public func send(_ text: String) -> Bool {
        if case .terminated = outbound.yield(text) { return false }
        return true
    }

    /// Cuts the connection abruptly, as a network failure would.
    public func close() {
        outbound.finish()
        peer.finish()
    }
}
