import EventAckProtocol
import Testing

@testable import EventAckReconciler

/// Bounds that are not visible through the public API: timer heap size, retained events, synced with many ranges.
@Suite("Reconciler internals")
struct ReconcilerInternalsTests {
    @Test("stale timers are purged: the heap stays within twice the live timers (plus a constant)")
    func timerHeapStaysBounded() {
        var harness = ReconcilerHarness { $0.window = 4096 }
        let (connection, welcome) = harness.connect()
        for batch in 0..<100 {
            for _ in 0..<100 { _ = harness.emit("agent_thinking", payload: #"{"text":"t"}"#, to: welcome.session) }
            _ = harness.ack(receipt: set(Seq((batch + 1) * 100)), on: connection)
        }
        // 10,000 receipt deadlines were armed and all went stale; only the heartbeat and synced timers live.
        #expect(harness.machine.context.timers.entries.count <= 2 * 4 + 1100)
        #expect(harness.machine.retainedEventCount == 0, "receipt-only events are released once acknowledged")
        let deadline = try! #require(harness.machine.nextDeadline)
        #expect(harness.machine.isLive(harness.machine.context.timers.entries[0]))
        #expect(deadline == harness.machine.context.timers.entries[0].deadline)
    }

    @Test("with more than 64 value holes, synced still echoes the newest value confirmations (EA-SYNC-1)")
    func syncedEchoesNewConfirmations() {
        var harness = ReconcilerHarness { $0.displayDeadline = nil }
        let (connection, welcome) = harness.connect()
        for index in 1...300 {
            // Each its own run: a run ends with its terminal event (EA-RUN-1).
            _ = harness.emit(
                "agent_completed", run: "run_\(index)", payload: #"{"result":"r"}"#, confirm: .value,
                to: welcome.session)
        }
        _ = harness.ack(receipt: set(300), display: set(300), on: connection)
        // Every other event valued: 150 holes at the value level.
        for seq in stride(from: Seq(1), through: 297, by: 2) {
            harness.now += 100
            _ = harness.ack(value: [seq], on: connection)
        }
        harness.now += 100
        let actions = harness.ack(value: [299], on: connection)
        let synced = try! #require(actions.synceds.last?.value)
        #expect(synced.contains(299))
        #expect(synced.ranges.count <= ProtocolLimits.maxAckRanges)
    }

    @Test("a resume whose receipt names unsent seqs is answered ack_unknown_seq and still resumes")
    func resumeWithBadReceipt() {
        var harness = ReconcilerHarness()
        let (first, welcome) = harness.connect()
        _ = harness.emit("agent_started", to: welcome.session)
        _ = harness.machine.connectionClosed(first, now: harness.now)
        let second = harness.open()
        let resume = ResumeRequest(session: welcome.session, token: welcome.token, receipt: set(5))
        let actions = harness.receive(ReconcilerHarness.hello(resume: resume), on: second)
        #expect(actions.welcomes.first?.resumed == true)
        #expect(actions.errors.map(\.code) == [.ackUnknownSeq])
        #expect(actions.events.map(\.seq) == [1], "nothing was confirmed by the bad receipt set")
    }

    @Test("resent value confirmations and nacks are counted as duplicates, not twice")
    func duplicates() {
        var harness = ReconcilerHarness()
        let (connection, welcome) = harness.connect()
        _ = harness.emit("agent_completed", payload: #"{"result":"r"}"#, confirm: .value, to: welcome.session)
        _ = harness.ack(receipt: set(1), value: [1], on: connection)
        _ = harness.ack(value: [1], on: connection)
        _ = harness.receive(.nack(Nack(seq: 1, level: .value, reason: .rejected)), on: connection)
        let stats = harness.report().overall
        #expect(stats.value.confirmed == 1)
        #expect(stats.duplicates == 2)
        #expect(stats.failed == 0)
    }
}
