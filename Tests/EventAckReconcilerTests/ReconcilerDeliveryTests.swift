import EventAckProtocol
import EventAckReconciler
import Testing

/// Window and queue, acks, nacks, retransmission, deadlines and liveness (§ 6, § 7, § 8, § 9).
@Suite("Reconciler delivery")
struct ReconcilerDeliveryTests {
    @Test("beyond the window events queue; beyond the queue emit fails window_exceeded (EA-FLOW-1, EA-FLOW-2)")
    func windowAndQueue() throws {
        var harness = ReconcilerHarness {
            $0.window = 2
            $0.maxQueuedEvents = 2
        }
        let (connection, welcome) = harness.connect()
        let sent = (1...4).map { _ in harness.emit("agent_thinking", to: welcome.session).actions.events.map(\.seq) }
        #expect(sent == [[1], [2], [], []])
        let error = #expect(throws: ReconcilerError.self) {
            try harness.machine.emit(
                run: "run_1", kind: "agent_thinking", to: SessionID(welcome.session), now: harness.now)
        }
        #expect(error?.code == "window_exceeded")
        let actions = harness.ack(receipt: set(1), on: connection)
        #expect(actions.events.map(\.seq) == [3])
        #expect(harness.ack(receipt: set(3), on: connection).events.map(\.seq) == [4])
    }

    @Test("cumulative and range acks confirm exactly their seqs; holes are retransmitted at once (EA-ACK-3, EA-RTX-2)")
    func rangesAndFastRetransmit() {
        var harness = ReconcilerHarness()
        let (connection, welcome) = harness.connect()
        for _ in 1...6 { _ = harness.emit("agent_thinking", to: welcome.session) }
        harness.now += 100
        let actions = harness.ack(receipt: set(2, [4...4, 6...6]), on: connection)
        #expect(actions.events.map(\.seq) == [3, 5])
        #expect(actions.events.map(\.attempt) == [2, 2])
        // The same holes reported again right away are not resent again (the resend may still be on its way).
        #expect(harness.ack(receipt: set(2, [4...4, 6...6]), on: connection).events.isEmpty)
        let report = harness.report()
        #expect(report.overall.receipt.confirmed == 4)
        #expect(report.overall.retransmissions == 2)
        // A repeated cumulative ack confirms nothing twice (EA-ACK-3).
        _ = harness.ack(receipt: set(6), on: connection)
        _ = harness.ack(receipt: set(6), on: connection)
        #expect(harness.report().overall.receipt.confirmed == 6)
    }

    @Test("a higher level implies the lower ones; latencies are recorded per level (EA-LVL-1)")
    func implication() {
        var harness = ReconcilerHarness()
        let (connection, welcome) = harness.connect()
        _ = harness.emit("agent_completed", payload: #"{"result":"42"}"#, confirm: .value, to: welcome.session)
        harness.now += 250
        let actions = harness.ack(value: [1], on: connection)
        #expect(
            actions.reports.contains {
                if case .confirmed(let reference, .value, 250) = $0 { return reference.seq == 1 }
                return false
            })
        let stats = harness.report().overall
        for level in ConfirmationLevel.allCases {
            #expect(stats[level].confirmed == 1)
            #expect(stats[level].latencyMs.max == 250)
        }
        #expect(stats.value.confirmedAtRequestedLevel == 1)
        // The synced echo covers the event at every level (EA-SYNC-1).
        let synced = try! #require(actions.synceds.last)
        #expect(synced.value?.contains(1) == true)
        #expect(synced.display?.contains(1) == true)
    }

    @Test("an ack naming unsent seqs is refused with ack_unknown_seq and changes nothing (EA-ACK-6)")
    func unknownSeq() {
        var harness = ReconcilerHarness { $0.window = 1 }
        let (connection, welcome) = harness.connect()
        _ = harness.emit("agent_thinking", to: welcome.session)
        _ = harness.emit("agent_thinking", to: welcome.session)  // queued, never sent
        let actions = harness.ack(receipt: set(2), on: connection)
        #expect(actions.errors.map(\.code) == [.ackUnknownSeq])
        #expect(actions.errors.first?.seq == 2)
        #expect(actions.errors.first?.fatal == false)
        #expect(harness.report().overall.receipt.confirmed == 0)
        #expect(harness.ack(value: [7], on: connection).errors.map(\.code) == [.ackUnknownSeq])
        let nack = Nack(seq: 9, level: .display, reason: .renderFailed)
        #expect(harness.receive(.nack(nack), on: connection).errors.map(\.code) == [.ackUnknownSeq])
    }

    @Test("a receipt nack is resent; display and value nacks fail the event with their reason (EA-NACK-2)")
    func nacks() {
        var harness = ReconcilerHarness()
        let (connection, welcome) = harness.connect()
        _ = harness.emit("agent_started", to: welcome.session)
        _ = harness.emit(
            "tool_executing", payload: #"{"call":"c1","tool":"search"}"#, confirm: .display, to: welcome.session)
        _ = harness.emit("agent_completed", payload: #"{"result":"ok"}"#, confirm: .value, to: welcome.session)
        let resend = harness.receive(.nack(Nack(seq: 1, level: .receipt, reason: .undecodable)), on: connection)
        #expect(resend.events.map(\.seq) == [1])
        #expect(resend.events.map(\.attempt) == [2])
        _ = harness.ack(receipt: set(3), on: connection)
        let display = harness.receive(.nack(Nack(seq: 2, level: .display, reason: .renderFailed)), on: connection)
        #expect(display.failures.map(\.reason) == [FailureReason(.renderFailed)])
        #expect(display.failures.map(\.level) == [.display])
        _ = harness.ack(display: set(1, [3...3]), on: connection)
        let value = harness.receive(.nack(Nack(seq: 3, level: .value, reason: .rejected)), on: connection)
        #expect(value.failures.map(\.reason) == [FailureReason(.rejected)])
        #expect(value.failures.map(\.level) == [.value])
        let run = try! #require(value.finishedRuns.first)
        #expect(run.verdict == .failed)
        #expect(run.failures.map(\.code) == ["unpaired_call", "render_failed", "rejected"])
        // A nack above the event's level is invalid, and a confirmed level cannot be taken back.
        _ = harness.emit("agent_started", run: "run_2", to: welcome.session)
        let above = harness.receive(.nack(Nack(seq: 4, level: .display, reason: .renderFailed)), on: connection)
        #expect(above.errors.map(\.code) == [.invalidMessage])
        let stats = harness.report().overall
        #expect(stats.failuresByReason == ["render_failed": 1, "rejected": 1])
        #expect(stats.display.confirmed == 1)
    }

    @Test("receipt deadline: 5 s, then ×2 up to 30 s, 5 attempts, then receipt_timeout (EA-RTX-1)")
    func backoffSchedule() {
        var harness = ReconcilerHarness()
        let (connection, welcome) = harness.connect()
        let start = harness.now
        _ = harness.emit("agent_started", to: welcome.session)
        var sendTimes: [UInt64] = []
        var failures: [(seq: Seq, level: ConfirmationLevel, reason: FailureReason)] = []
        while let deadline = harness.machine.nextDeadline, deadline < start + 200_000, failures.isEmpty {
            harness.now = deadline
            let actions = harness.machine.timerFired(now: harness.now)
            for event in actions.events {
                sendTimes.append(harness.now - start)
                #expect(event.attempt == UInt64(sendTimes.count + 1))
            }
            // The client's heartbeat keeps the connection alive; it just never receives the event.
            _ = harness.receive(.ping(id: 0), on: connection)
            failures = actions.failures
        }
        #expect(sendTimes == [5_000, 15_000, 35_000, 65_000])
        #expect(failures.map(\.reason) == [.receiptTimeout])
        #expect(harness.now - start == 95_000)
    }

    @Test("jitter stays within its fraction and varies with the seed")
    func jitter() {
        let policy = RetransmissionPolicy()
        var random = SplitMix64(seed: 9)
        let delays = (0..<200).map { _ in policy.delayMs(afterAttempt: 1, random: random.next()) }
        #expect(delays.allSatisfy { $0 >= 5_000 && $0 <= 5_500 })
        #expect(Set(delays).count > 50)
        #expect(policy.delayMs(afterAttempt: 9, random: 0) == 30_000)
    }

    @Test("display: overdue 10 s after receipt, failed at 30 s; value without a deadline waits (§ 8)")
    func displayDeadline() {
        var harness = ReconcilerHarness {
            $0.heartbeatMs = 1_000_000
            $0.valueDeadline = nil
        }
        let (connection, welcome) = harness.connect()
        _ = harness.emit("agent_started", confirm: .display, to: welcome.session)
        _ = harness.emit("agent_completed", payload: #"{"result":"ok"}"#, confirm: .value, to: welcome.session)
        _ = harness.ack(receipt: set(2), display: set(0, [2...2]), on: connection)
        let start = harness.now
        let early = harness.runTimers(until: start + 9_999)
        #expect(!early.reports.contains { if case .overdue = $0 { true } else { false } })
        let overdue = harness.runTimers(until: start + 10_000)
        #expect(
            overdue.reports.contains {
                if case .overdue(let reference, .display, 10_000) = $0 { return reference.seq == 1 }
                return false
            })
        let failed = harness.runTimers(until: start + 30_000)
        #expect(failed.failures.map(\.seq) == [1])
        #expect(failed.failures.map(\.reason) == [.displayTimeout])
        // Seq 2 waits for its value without a deadline; a late display of seq 1 changes nothing.
        _ = harness.runTimers(until: start + 600_000)
        _ = harness.ack(display: set(2), on: connection)
        let stats = harness.report().overall
        #expect(stats.value.pending == 1)
        #expect(stats.display.failed == 1)
        #expect(stats.overdue == 1)
    }

    @Test("heartbeats: ping after an idle interval; a silent peer is closed and its session detached (EA-LIVE-4)")
    func liveness() {
        var harness = ReconcilerHarness { $0.heartbeatMs = 10_000 }
        let (connection, welcome) = harness.connect()
        let ping = harness.runTimers(until: harness.now + 10_000)
        #expect(ping.messages == [.ping(id: 1)])
        let dead = harness.runTimers(until: harness.now + 10_000)
        #expect(dead.closes == [connection])
        #expect(dead.reports.contains { if case .sessionDetached = $0 { true } else { false } })
        #expect(harness.machine.sessions(of: "alice") == [SessionID(welcome.session)])
    }

    @Test("a 40-second run kept alive with progress is confirmed without a timeout (EA-LIVE-2)")
    func longRun() {
        var harness = ReconcilerHarness()
        let (connection, welcome) = harness.connect()
        let session = SessionID(welcome.session)
        var seq: Seq = 0
        func emitted(_ emission: Emission) -> Seq { emission.seq }
        seq = emitted(harness.emit("agent_started", run: "analysis", to: welcome.session))
        _ = harness.ack(receipt: set(seq), on: connection)
        for second in stride(from: 5, through: 35, by: 5) {
            _ = harness.runTimers(until: ReconcilerHarness.start + UInt64(second) * 1000)
            let progress = try! harness.machine.progress(
                run: "analysis", note: "\(second) s", in: session, now: harness.now)
            #expect(progress.messages.count == 1)
            _ = harness.receive(.ping(id: UInt64(second)), on: connection)  // the client's heartbeat
        }
        _ = harness.runTimers(until: ReconcilerHarness.start + 40_000)
        seq = emitted(
            harness.emit("agent_completed", run: "analysis", payload: #"{"result":"done"}"#, to: welcome.session))
        let actions = harness.ack(receipt: set(seq), on: connection)
        let run = try! #require(actions.finishedRuns.first)
        #expect(run.verdict == .confirmed)
        #expect(run.warnings.map(\.name) == ["completed_after_start"], "40 s > the 30 s SLO: a warning only")
        #expect(harness.report().overall.failed == 0)
    }
}
