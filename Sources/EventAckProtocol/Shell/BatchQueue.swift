/// A queue between two tasks that hands over everything queued at once.
///
/// The shells use it where one frame per hop cost more than the work on the frame: the reconciler's writer takes
/// every frame queued for a connection and writes them with one flush; the client takes every frame that arrived and
/// processes them in one turn of its actor — and knows when the burst is drained (``isEmpty``), which is when its
/// coalesced receipt ack goes (EA-DEL-3). Bounded: a full queue refuses the push, which the reconciler reads as a
/// peer that does not read.
package final class BatchQueue<Element: Sendable>: Sendable {
    package enum Push: Equatable, Sendable {
        /// Queued; `depth` elements now wait.
        case enqueued(depth: Int)
        /// The queue is full: refused.
        case dropped
        /// The queue was finished: refused.
        case finished
    }

    private struct State {
        var queue: [Element] = []
        var waiter: CheckedContinuation<[Element]?, Never>?
        var isFinished = false
        var isCancelled = false
        var failure: (any Error)?
    }

    package let limit: Int
    private let state = LockedState(State())

    package init(limit: Int = .max) {
        self.limit = limit
    }

    package func push(_ element: Element) -> Push {
        let (result, waiter) = state.withLock { state -> (Push, CheckedContinuation<[Element]?, Never>?) in
            guard !state.isFinished else { return (.finished, nil) }
            guard state.queue.count < limit else { return (.dropped, nil) }
            if let waiter = state.waiter {
                state.waiter = nil
                return (.enqueued(depth: 1), waiter)
            }
            state.queue.append(element)
            return (.enqueued(depth: state.queue.count), nil)
        }
        waiter?.resume(returning: [element])
        return result
    }

    /// No more pushes; the taker still gets what is queued, then `nil`. `failure` is kept for ``failure``.
    package func finish(throwing failure: (any Error)? = nil) {
        let waiter = state.withLock { state -> CheckedContinuation<[Element]?, Never>? in
            guard !state.isFinished else { return nil }
            state.isFinished = true
            state.failure = failure
            defer { state.waiter = nil }
            return state.waiter
        }
        waiter?.resume(returning: nil)
    }

    /// Whether nothing waits to be taken.
    package var isEmpty: Bool { state.withLock { $0.queue.isEmpty } }

    /// What the queue was finished with, if it failed.
    package var failure: (any Error)? { state.withLock { $0.failure } }

    /// Everything queued, waiting for at least one element; `nil` once finished and empty, or when the calling task
    /// is cancelled.
    package func next() async -> [Element]? {
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<[Element]?, Never>) in
                let batch = state.withLock { state -> [Element]?? in
                    if state.isCancelled { return .some(nil) }
                    if !state.queue.isEmpty {
                        var batch: [Element] = []
                        swap(&batch, &state.queue)
                        return .some(batch)
                    }
                    if state.isFinished { return .some(nil) }
                    state.waiter = continuation
                    return .none
                }
                if case .some(let batch) = batch { continuation.resume(returning: batch) }
            }
        } onCancel: {
            let waiter = state.withLock { state -> CheckedContinuation<[Element]?, Never>? in
                state.isCancelled = true
                defer { state.waiter = nil }
                return state.waiter
            }
            waiter?.resume(returning: nil)
        }
    }
}
