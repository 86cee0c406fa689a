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
    let timer = TimerSlot()
    return try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
        let work = Task {
            let result = await Result(catching: operation)
            guard once.claim() else { return }
            // Most calls end long before their deadline: the timer goes at once, not after sleeping it out (at
            // a thousand commits a second, ten thousand sleeping tasks).
            timer.cancel()
            continuation.resume(with: result)
        }
        timer.set(
            Task {
                try? await Task.sleep(for: limit)
                guard once.claim() else { return }
                work.cancel()
                continuation.resume(throwing: StoreTimeout(limit: limit))
            })
    }
}

/// The deadline's timer task, cancelled when the work ends first — also if that happens before it is set.
private final class TimerSlot: Sendable {
    private let state = Mutex<(task: Task<Void, Never>?, cancelled: Bool)>((nil, false))

    func set(_ task: Task<Void, Never>) {
        let cancelled = state.withLock { state in
            state.task = task
            return state.cancelled
        }
        if cancelled { task.cancel() }
    }

    func cancel() {
        let task = state.withLock { state in
            state.cancelled = true
            return state.task
        }
        task?.cancel()
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
