import EventAckProtocol
import Testing

@testable import EventAckReconciler

/// The per-connection outbox: what queues while the writer is busy goes out as one batch, in order, and bounded.
@Suite("Outbox")
struct OutboxTests {
    static func ping(_ n: Int) -> Message { .progress(Progress(run: "r\(n)", ts: UInt64(n))) }

    @Test("frames pushed while the writer is busy come out as one batch, in order")
    func batchesInOrder() async {
        let outbox = Outbox(limit: 16)
        for n in 0..<5 { #expect(outbox.push(Self.ping(n)) == .enqueued(depth: n + 1)) }
        let batch = await outbox.next()
        #expect(batch == (0..<5).map(Self.ping))
        #expect(outbox.push(Self.ping(9)) == .enqueued(depth: 1))
        #expect(await outbox.next() == [Self.ping(9)])
    }

    @Test("a full outbox refuses the push (the peer does not read); a finished one refuses every push")
    func boundedAndFinished() async {
        let outbox = Outbox(limit: 3)
        for n in 0..<3 { _ = outbox.push(Self.ping(n)) }
        #expect(outbox.push(Self.ping(3)) == .dropped)
        outbox.finish()
        #expect(outbox.push(Self.ping(4)) == .finished)
        #expect(await outbox.next() == (0..<3).map(Self.ping), "what was queued still goes out")
        #expect(await outbox.next() == nil)
    }

    @Test("a waiting writer is woken by a push, by finish, and by cancellation")
    func waiterWakes() async {
        let outbox = Outbox(limit: 4)
        let first = Task { await outbox.next() }
        try? await Task.sleep(for: .milliseconds(20))
        #expect(outbox.push(Self.ping(1)) == .enqueued(depth: 1))
        #expect(await first.value == [Self.ping(1)])

        let finished = Task { await outbox.next() }
        try? await Task.sleep(for: .milliseconds(20))
        outbox.finish()
        #expect(await finished.value == nil)

        let other = Outbox(limit: 4)
        let cancelled = Task { await other.next() }
        try? await Task.sleep(for: .milliseconds(20))
        cancelled.cancel()
        #expect(await cancelled.value == nil)
    }
}
