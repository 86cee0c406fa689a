/// A queue between two tasks that hands over everything queued at once.
///
/// The shells use it where one frame per hop cost more than the work on the frame: the reconciler's writer takes
/// every frame queued for a connection and writes them with one flush; the client takes every frame that arrived and
/// processes them in one turn of its actor — and knows when the burst is drained (``isEmpty``), which is when its
/// coalesced receipt ack goes (EA-DEL-3). Bounded: a full queue refuses the push, which the reconciler reads as a
/// peer that does not read.
@_spi(Shell) public final class BatchQueue<Element: Sendable>: Sendable {
    public enum Push: Equatable, Sendable {
        /// Queued; `depth` elements now wait.
        case enqueued(depth: Int)
        /// The queue is full: refused.
        case dropped
        /// The queue was finished: refused.
        case finished
    }

    // Inlinable, so that each module using it gets a copy specialized for its element: unspecialized, every push
    // and take looked up generic metadata at run time — a tenth of the client's and the server's CPU at high
    // rates. SPI rather than `package`: Swift 6.3 does not inline `@inlinable package` code across modules.
    @usableFromInline
    struct State {
        @usableFromInline var queue: [Element] = []
        @usableFromInline var waiter: CheckedContinuation<[Element]?, Never>?
        @usableFromInline var isFinished = false
        @usableFromInline var isCancelled = false
        @usableFromInline var failure: (any Error)?

        @inlinable init() {}
    }

    public let limit: Int
    @usableFromInline let state: LockedState<State>

    @inlinable
    public init(limit: Int = .max) {
        self.limit = limit
        self.state = LockedState(State())
    }

    /// Queues one element and wakes the taker if it waits.
    @inlinable
    public func push(_ element: Element) -> Push {
        push(contentsOf: CollectionOfOne(element))
    }

    /// Queues `elements` together, waking the taker once: what a producer that knows its bursts should use.
    /// All or nothing against the limit.
    @inlinable
    public func push(contentsOf elements: some Collection<Element>) -> Push {
        let (result, waiter) = state.withLock { state -> (Push, CheckedContinuation<[Element]?, Never>?) in
            guard !state.isFinished else { return (.finished, nil) }
            guard state.queue.count + elements.count <= limit else { return (.dropped, nil) }
            // An empty batch would wake the taker with nothing to take.
            if let waiter = state.waiter, !elements.isEmpty {
                state.waiter = nil
                return (.enqueued(depth: elements.count), waiter)
            }
            state.queue.append(contentsOf: elements)
            return (.enqueued(depth: state.queue.count), nil)
        }
        waiter?.resume(returning: Array(elements))
        return result
    }

    /// No more pushes; the taker still gets what is queued, then `nil`. `failure` is kept for ``failure``.
    @inlinable
    public func finish(throwing failure: (any Error)? = nil) {
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
    @inlinable
    public var isEmpty: Bool { state.withLock { $0.queue.isEmpty } }

    /// How many elements wait to be taken.
    @inlinable
    public var count: Int { state.withLock { $0.queue.count } }

    /// What the queue was finished with, if it failed.
    @inlinable
    public var failure: (any Error)? { state.withLock { $0.failure } }

    /// Everything queued, waiting for at least one element; `nil` once finished and empty, or when the calling task
    /// is cancelled.
    @inlinable
    public func next() async -> [Element]? {
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
                    // Like AsyncStream: a second taker at once is a programming error, not a silent hang.
                    precondition(state.waiter == nil, "a BatchQueue is taken from by one task at a time")
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
