import EventAckClient
import EventAckReconciler
import Synchronization

/// A transport whose connections are in-process pipes, for tests: it pushes frames to the client's
/// `InboundFrames` as the real transports do. Each connect yields the server's end of the new connection on
/// ``accepted``, for a test that plays the server or for ``InMemoryServerEnd/serve(on:principal:writerExecutor:)``.
public final class InMemoryClientTransport: ClientTransport {
    /// The server ends of connections, in the order clients connected.
    public let accepted: AsyncStream<InMemoryServerEnd>
    private let acceptedContinuation: AsyncStream<InMemoryServerEnd>.Continuation
    private let refusals = Mutex(0)

    /// Creates a transport with no connection yet.
    public init() {
        (accepted, acceptedContinuation) = AsyncStream.makeStream()
    }

    /// Makes the next `count` connects fail, as if the server were unreachable.
    public func refuseNextConnects(_ count: Int) {
        refusals.withLock { $0 += count }
    }

    public func connect(handingFramesTo inbound: InboundFrames) async throws -> any ClientConnection {
        let refuse = refusals.withLock { refused -> Bool in
            guard refused > 0 else { return false }
            refused -= 1
            return true
        }
        if refuse { throw InMemoryTransportError.refused }
        let (toServer, toServerContinuation) = AsyncThrowingStream<String, any Error>.makeStream()
        let pipe = InMemoryPipe(toClient: inbound, toServer: toServerContinuation)
        acceptedContinuation.yield(InMemoryServerEnd(inbound: toServer, pipe: pipe))
        return InMemoryClientEnd(pipe: pipe)
    }
}

/// Why an in-memory connection could not be made or used.
public enum InMemoryTransportError: Error, Sendable {
    /// ``InMemoryClientTransport/refuseNextConnects(_:)`` refused it.
    case refused
    /// The connection is closed.
    case closed
}

/// Both directions of one in-memory connection; closing either end closes both, once.
final class InMemoryPipe: Sendable {
    let toClient: InboundFrames
    let toServer: AsyncThrowingStream<String, any Error>.Continuation
    private let closed = Atomic<Bool>(false)

    init(toClient: InboundFrames, toServer: AsyncThrowingStream<String, any Error>.Continuation) {
        self.toClient = toClient
        self.toServer = toServer
    }

    var isClosed: Bool { closed.load(ordering: .acquiring) }

    func close() {
        guard !closed.exchange(true, ordering: .acquiringAndReleasing) else { return }
        toServer.finish()
        toClient.end()
    }
}

/// The client's end of an in-memory connection.
struct InMemoryClientEnd: ClientConnection {
    let pipe: InMemoryPipe

    func send(_ text: String) async throws {
        guard !pipe.isClosed, case .enqueued = pipe.toServer.yield(text) else {
            throw InMemoryTransportError.closed
        }
    }

    func close() async { pipe.close() }
}

/// The server's end of an in-memory connection.
public struct InMemoryServerEnd: Sendable {
    /// Frames from the client, in order, for a test that plays the server; finishes when the connection closes.
    public let inbound: AsyncThrowingStream<String, any Error>
    let pipe: InMemoryPipe

    /// Hands a frame to the client; `false` when the connection is closed (or the client stopped reading it).
    @discardableResult
    public func send(_ text: String) -> Bool {
        guard !pipe.isClosed else { return false }
        return pipe.toClient.receive(text)
    }

    /// Cuts the connection abruptly, as a network failure would.
    public func close() {
        pipe.close()
    }

    /// Serves this connection on `service` as a host would: opens it, hands each client frame to the service as it
    /// arrives, and returns once the connection ended and the service let go of it.
    ///
    /// - Parameters:
    ///   - service: the service that serves the connection.
    ///   - principal: who the connection is authenticated as.
    ///   - writerExecutor: where the service's writer should run (the connection's `writerExecutor`).
    public func serve(on service: ReconcilerService, principal: String, writerExecutor: (any TaskExecutor)? = nil) async
    {
        let connection = InMemoryServerConnection(end: self, writerExecutor: writerExecutor)
        guard let served = service.open(connection, principal: principal) else {
            close()
            return
        }
        do {
            for try await frame in inbound where !served.receive(.text(frame)) { break }
        } catch {
            // A failed connection ends like a closed one.
        }
        await served.end()
    }
}

/// The server's end of an in-memory connection, as the `ReconcilerService` writes to it.
public struct InMemoryServerConnection: ServerConnection {
    /// The end the service writes to.
    public let end: InMemoryServerEnd
    public let writerExecutor: (any TaskExecutor)?

    /// Wraps `end`; the service's writer runs on `writerExecutor` (the global executor when `nil`).
    public init(end: InMemoryServerEnd, writerExecutor: (any TaskExecutor)? = nil) {
        self.end = end
        self.writerExecutor = writerExecutor
    }

    public func send(_ text: String) async throws {
        if !end.send(text) { throw InMemoryTransportError.closed }
    }

    public func close() async { end.close() }
}

extension InMemoryClientTransport {
    /// Hands every connection the transport accepts to `serve`, each on a task of its own. Runs until cancelled.
    public func serveEach(_ serve: @escaping @Sendable (InMemoryServerEnd) async -> Void) -> Task<Void, Never> {
        Task {
            for await end in accepted {
                Task { await serve(end) }
            }
        }
    }
}
