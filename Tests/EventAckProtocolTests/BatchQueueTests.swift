@_spi(Shell) import EventAckProtocol
import Testing

/// The shells' batch queue: what queues while the taker is busy comes out as one batch, in order, and bounded.
@Suite("Batch queue")
struct BatchQueueTests {
    static func ping(_ n: Int) -> Message { .progress(Progress(run: "r\(n)", ts: UInt64(n))) }

    @Test("frames pushed while the writer is busy come out as one batch, in order")
    func batchesInOrder() async {
        let outbox = BatchQueue<Message>(limit: 16)
        for n in 0..<5 { #expect(outbox.push(Self.ping(n)) == .enqueued(depth: n + 1)) }
        let batch = await outbox.next()
        #expect(batch == (0..<5).map(Self.ping))
        #expect(outbox.push(Self.ping(9)) == .enqueued(depth: 1))
        #expect(await outbox.next() == [Self.ping(9)])
    }

    @Test("a full outbox refuses the push (the peer does not read); a finished one refuses every push")
    func boundedAndFinished() async {
        let outbox = BatchQueue<Message>(limit: 3)
        for n in 0..<3 { _ = outbox.push(Self.ping(n)) }
        #expect(outbox.push(Self.ping(3)) == .dropped)
        outbox.finish()
        #expect(outbox.push(Self.ping(4)) == .finished)
        #expect(await outbox.next() == (0..<3).map(Self.ping), "what was queued still goes out")
        #expect(await outbox.next() == nil)
    }

    @Test("a waiting writer is woken by a push, by finish, and by cancellation")
    func waiterWakes() async {
        let outbox = BatchQueue<Message>(limit: 4)
        let first = Task { await outbox.next() }
        try? await Task.sleep(for: .milliseconds(20))
        #expect(outbox.push(Self.ping(1)) == .enqueued(depth: 1))
        #expect(await first.value == [Self.ping(1)])

        let finished = Task { await outbox.next() }
        try? await Task.sleep(for: .milliseconds(20))
        outbox.finish()
        #expect(await finished.value == nil)

        let other = BatchQueue<Message>(limit: 4)
        let cancelled = Task { await other.next() }
        try? await Task.sleep(for: .milliseconds(20))
        cancelled.cancel()
        #expect(await cancelled.value == nil)
    }

    @Test("a failure is kept for the taker, after what was queued; isEmpty tells a drained queue")
    func failureAndDrain() async {
        struct Boom: Error {}
        let queue = BatchQueue<Int>()
        #expect(queue.isEmpty)
        _ = queue.push(1)
        #expect(!queue.isEmpty)
        queue.finish(throwing: Boom())
        queue.finish()  // a second finish changes nothing
        #expect(await queue.next() == [1])
        #expect(queue.isEmpty)
        #expect(await queue.next() == nil)
        #expect(queue.failure is Boom)
    }
}
