import EventAckProtocol
import Synchronization

/// A clock that moves only when the test says so: the async shells (`EventAckClient`-style actors,
/// `ReconcilerService`) sleep on it, and ``advance(to:)`` wakes every sleeper whose deadline has passed.
///
/// The pure machines need no clock at all (time is an argument); this is for testing the shells around them.
public final class ManualClock: EventAckClock {
    private struct State {
        var now: UInt64
        var sleepers: [(id: Int, deadline: UInt64, continuation: CheckedContinuation<Void, any Error>)] = []
        var nextID = 0
    }

    private let state: Mutex<State>

    /// A clock standing at `start` milliseconds.
    public init(start: UInt64 = 0) {
        state = Mutex(State(now: start))
    }

    /// The current virtual time in milliseconds.
    public func nowMs() -> UInt64 { state.withLock { $0.now } }

    /// Suspends until the clock is advanced to `deadline` or later, or the task is cancelled.
    public func sleep(untilMs deadline: UInt64) async throws {
        let id = state.withLock { state -> Int in
            state.nextID += 1
            return state.nextID
        }
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                let resumeNow = state.withLock { state -> Bool in
                    if state.now >= deadline || Task.isCancelled { return true }
                    state.sleepers.append((id, deadline, continuation))
                    return false
                }
                if resumeNow { continuation.resume() }
            }
        } onCancel: {
            let continuation = state.withLock { state -> CheckedContinuation<Void, any Error>? in
                guard let index = state.sleepers.firstIndex(where: { $0.id == id }) else { return nil }
                return state.sleepers.remove(at: index).continuation
            }
            continuation?.resume(throwing: CancellationError())
        }
        try Task.checkCancellation()
    }

    /// Moves time forward to `now` (never backward) and wakes every sleeper whose deadline has passed.
    public func advance(to now: UInt64) {
        let due = state.withLock { state -> [CheckedContinuation<Void, any Error>] in
            state.now = max(state.now, now)
            let due = state.sleepers.filter { $0.deadline <= state.now }
            state.sleepers.removeAll { $0.deadline <= state.now }
            return due.map(\.continuation)
        }
        for continuation in due { continuation.resume() }
    }

    /// Moves time forward by `milliseconds`.
    public func advance(by milliseconds: UInt64) {
        advance(to: nowMs() + milliseconds)
    }
}
