import Synchronization

/// The database did not answer within the deadline.
public struct StoreTimeout: Error, CustomStringConvertible {
    /// How long it was given.
    public var limit: Duration
    public var description: String { "the database did not answer within \(limit)" }
}

/// Runs `operation`, giving up after `limit` with ``StoreTimeout``: a query the database never answers (a frozen
/// server, a connection that died without a word) must not hold its caller for ever — the service's write-ahead
/// queue and the cluster's loop would stall with it (found by cluster-chaos.sh: a node stuck after PostgreSQL
/// crashed). The abandoned operation is cancelled and may still complete: its outcome is unknown, which is what the
/// commit id of ``PostgresSessionStore/append(_:commit:)`` and the request key of a forward make safe to retry
/// (EA-DUR-7).
public func withDeadline<T: Sendable>(
    _ limit: Duration, _ operation: @escaping @Sendable () async throws -> T
) async throws -> T {
    let once = Once()
    return try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
        let work = Task {
            let result = await Result(catching: operation)
            if once.claim() { continuation.resume(with: result) }
        }
        Task {
            try? await Task.sleep(for: limit)
            guard once.claim() else { return }
            work.cancel()
            continuation.resume(throwing: StoreTimeout(limit: limit))
        }
    }
}

/// True for the first caller of ``claim()`` only.
private final class Once: Sendable {
    private let done = Mutex(false)

    func claim() -> Bool {
        done.withLock { done in
            defer { done = true }
            return !done
        }
    }
}

extension Result where Failure == any Error {
    init(catching body: () async throws -> Success) async {
        do {
            self = .success(try await body())
        } catch {
            self = .failure(error)
        }
    }
}
