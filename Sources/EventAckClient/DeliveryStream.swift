@_spi(Shell) import EventAckProtocol

/// The events of an ``EventAckClient`` (``EventAckClient/events``): each seq of the session once, in order, as an
/// `AsyncSequence` for one task to iterate. It finishes, after everything already delivered, when the client is
/// closed; an iteration also ends when its task is cancelled.
///
/// Unlike an `AsyncStream`, the iterator takes every event waiting at once and hands them out from its own buffer:
/// under load the consumer crosses a lock and may suspend once per burst, not once per event.
///
/// - Precondition: one task iterates at a time — a second concurrent iteration traps, as with `AsyncStream`.
public struct DeliveryStream: AsyncSequence, Sendable {
    public typealias Element = Delivery
    public typealias Failure = Never

    let queue: BatchQueue<Delivery>

    init(_ queue: BatchQueue<Delivery>) {
        self.queue = queue
    }

    public func makeAsyncIterator() -> AsyncIterator {
        AsyncIterator(queue: queue)
    }

    /// Hands out events from the burst it took last, and takes the next burst when that one is used up.
    public struct AsyncIterator: AsyncIteratorProtocol {
        let queue: BatchQueue<Delivery>
        var burst: [Delivery] = []
        var position = 0

        /// The next event, or `nil` once the client is closed and everything was handed out (or the task is
        /// cancelled).
        public mutating func next() async -> Delivery? {
            if position == burst.count {
                guard let taken = await queue.next() else { return nil }
                burst = taken
                position = 0
            }
            defer { position += 1 }
            return burst[position]
        }
    }
}
