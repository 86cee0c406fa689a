import Synchronization

/// Several servers — the nodes of one EventAck cluster — as one transport: connects through the node that last
/// worked and, when a connect fails, through the next one in turn. A session resumes on any node of a cluster whose
/// servers share a session store (§ 15), so failing over loses nothing.
///
/// ```swift
/// let transport = FailoverTransport(urls.map { WebSocketTransport(url: $0, token: token) })
/// let client = EventAckClient(transport: transport)
/// ```
public final class FailoverTransport: ClientTransport {
    /// The transports, one per node, in the order they are tried.
    public let transports: [any ClientTransport]
    private let current = Mutex(0)

    /// Tries `transports` in order, starting with the first.
    ///
    /// - Precondition: `transports` is not empty.
    public init(_ transports: [any ClientTransport]) {
        precondition(!transports.isEmpty, "FailoverTransport needs at least one transport")
        self.transports = transports
    }

    /// The index of the transport the next connect tries first: the last one that worked.
    public var currentIndex: Int { current.withLock { $0 } }

    /// Connects through the transport that last worked, or the next ones in turn, handing frames over through the
    /// one that connects (a failed attempt does not touch `inbound`); throws the last error when none can connect
    /// (the client's reconnect policy then waits and tries again, starting with the next one).
    public func connect(handingFramesTo inbound: InboundFrames) async throws -> any ClientConnection {
        let start = current.withLock { $0 }
        var lastError: (any Error)?
        for offset in 0..<transports.count {
            let index = (start + offset) % transports.count
            do {
                let connection = try await transports[index].connect(handingFramesTo: inbound)
                current.withLock { $0 = index }
                return connection
            } catch {
                lastError = error
            }
        }
        current.withLock { $0 = (start + 1) % transports.count }
        throw lastError!
    }
}
