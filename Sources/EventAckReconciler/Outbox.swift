import EventAckProtocol

/// The frames waiting for one connection's writer, bounded.
///
/// The service pushes under its lock; the writer takes everything queued at once and hands it to the connection as
/// one batch (``ServerConnection/send(contentsOf:)``). While the writer is busy with one batch the next one builds
/// up, so a burst costs a write and a flush per batch instead of per frame, and the writer sleeps only when there is
/// nothing to send. A full outbox means the peer does not read: the push is refused and the service drops it.
final class Outbox: Sendable {
    enum Push: Equatable {
        /// Queued; `depth` frames now wait.
        case enqueued(depth: Int)
        /// The outbox is full: refused.
        case dropped
        /// The outbox was finished: refused.
        case finished
    }

    private struct State {
        var queue: [Message] = []
        var waiter: CheckedContinuation<[Message]?, Never>?
        var isFinished = false
        var isCancelled = false
    }

    let limit: Int
    private let state = LockedState(State())

    init(limit: Int) {
        self.limit = limit
    }

    func push(_ message: Message) -> Push {
        let (result, waiter) = state.withLock { state -> (Push, CheckedContinuation<[Message]?, Never>?) in
            guard !state.isFinished else { return (.finished, nil) }
            guard state.queue.count < limit else { return (.dropped, nil) }
            if let waiter = state.waiter {
                state.waiter = nil
                return (.enqueued(depth: 1), waiter)
            }
            state.queue.append(message)
            return (.enqueued(depth: state.queue.count), nil)
        }
        waiter?.resume(returning: [message])
        return result
    }

    /// No more pushes; the writer still gets what is queued, then `nil`.
    func finish() {
        let waiter = state.withLock { state -> CheckedContinuation<[Message]?, Never>? in
            state.isFinished = true
            defer { state.waiter = nil }
            return state.waiter
        }
        waiter?.resume(returning: nil)
    }

    /// Everything queued, waiting for at least one frame; `nil` once finished and empty, or when the calling task
    /// is cancelled.
    func next() async -> [Message]? {
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<[Message]?, Never>) in
                let batch = state.withLock { state -> [Message]?? in
                    if state.isCancelled { return .some(nil) }
                    if !state.queue.isEmpty {
                        var batch: [Message] = []
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
            let waiter = state.withLock { state -> CheckedContinuation<[Message]?, Never>? in
                state.isCancelled = true
                defer { state.waiter = nil }
                return state.waiter
            }
            waiter?.resume(returning: nil)
        }
    }
}
