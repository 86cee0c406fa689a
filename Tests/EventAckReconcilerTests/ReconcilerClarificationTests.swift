import EventAckProtocol
import EventAckReconciler
import Testing

/// One defined answer for each case the 1.1 clarifications settle (§ 14).
@Suite("Reconciler clarifications (1.1)")
struct ReconcilerClarificationTests {
    @Test(
        "wrong-direction messages get a non-fatal invalid_message; before hello only a valid non-hello is fatal (EA-MSG-13)"
    )
    func wrongDirection() {
        var harness = ReconcilerHarness()
        let early = harness.open()
        #expect(harness.receive(json: "{oops", on: early).errors.map(\.code) == [.malformedJSON])
        #expect(harness.receive(json: #"{"type":"hello"}"#, on: early).errors.map(\.code) == [.invalidMessage])
        #expect(harness.receive(json: #"{"type":"shrug"}"#, on: early).errors.map(\.code) == [.unknownType])
        let fatal = harness.receive(.ping(id: 1), on: early)
        #expect(fatal.errors.map(\.code) == [.handshakeRequired])
        #expect(fatal.closes == [early])
        let (connection, welcome) = harness.connect()
        let wrong: [Message] = [
            .hello(Hello(client: ClientInfo(name: "x", version: "1"))), .welcome(welcome),
            .event(Event(seq: 1, run: "r", kind: "k", ts: 0, confirm: .receipt)),
            .synced(Synced(receipt: AckSet())), .progress(Progress(run: "r", ts: 0)),
        ]
        for message in wrong {
            let answer = harness.receive(message, on: connection)
            #expect(answer.errors.map(\.code) == [.invalidMessage])
            #expect(answer.errors.map(\.fatal) == [false])
            #expect(answer.closes.isEmpty)
        }
    }

    @Test("a value confirmation of a display event confirms its display, without error (EA-ACK-9)")
    func confirmationAboveLevel() {
        var harness = ReconcilerHarness()
        let (connection, welcome) = harness.connect()
        _ = harness.emit("agent_started", confirm: .display, to: welcome.session)
        let actions = harness.ack(receipt: set(1), value: [1], on: connection)
        #expect(actions.errors.isEmpty)
        #expect(harness.report().overall.display.confirmedAtRequestedLevel == 1)
    }

    @Test(
        "nacks: above the level is invalid_message; of a failed seq is a duplicate; a failed seq acked stays failed (EA-NACK-3, EA-ACK-8)"
    )
    func nackAnswers() {
        var harness = ReconcilerHarness()
        let (connection, welcome) = harness.connect()
        _ = harness.emit("agent_started", to: welcome.session)
        _ = harness.emit("agent_thinking", payload: #"{"text":"t"}"#, confirm: .display, to: welcome.session)
        let above = harness.receive(.nack(Nack(seq: 1, level: .display, reason: .renderFailed)), on: connection)
        #expect(above.errors.map(\.code) == [.invalidMessage])
        _ = harness.ack(receipt: set(2), on: connection)
        _ = harness.receive(.nack(Nack(seq: 2, level: .display, reason: .renderFailed)), on: connection)
        let again = harness.receive(.nack(Nack(seq: 2, level: .display, reason: .renderFailed)), on: connection)
        #expect(again.errors.isEmpty)
        let acked = harness.ack(receipt: set(2), display: set(2), on: connection)
        #expect(acked.errors.isEmpty)
        let stats = harness.report().overall
        #expect(stats.display.failed == 1)
        #expect(stats.display.confirmed == 0)
        #expect(stats.duplicates >= 1)
    }

    @Test("a resume of a session attached elsewhere closes the earlier connection (EA-RES-6)")
    func resumeWhileAttached() {
        var harness = ReconcilerHarness()
        let (first, welcome) = harness.connect()
        let second = harness.open()
        let resume = ResumeRequest(session: welcome.session, token: welcome.token, receipt: AckSet())
        let actions = harness.receive(ReconcilerHarness.hello(resume: resume), on: second)
        #expect(actions.closes == [first])
        #expect(actions.welcomes.first?.resumed == true)
        #expect(harness.machine.session(on: second) == SessionID(welcome.session))
    }

    @Test("a resume receipt naming unsent seqs is answered, and the resume proceeds without it (EA-RES-7)")
    func resumeReceiptUnknown() {
        var harness = ReconcilerHarness()
        let (first, welcome) = harness.connect()
        _ = harness.emit("agent_started", to: welcome.session)
        _ = harness.machine.connectionClosed(first, now: harness.now)
        let second = harness.open()
        let resume = ResumeRequest(session: welcome.session, token: welcome.token, receipt: AckSet(upTo: 9))
        let actions = harness.receive(ReconcilerHarness.hello(resume: resume), on: second)
        #expect(actions.welcomes.first?.resumed == true)
        #expect(actions.errors.map(\.code) == [.ackUnknownSeq])
        #expect(actions.events.map(\.seq) == [1], "replayed: the bad receipt was not applied")
    }

    @Test("the retransmission schedule is exactly 0, 5, 15, 35, 65 s, failure at 95 s without jitter (EA-RTX-5)")
    func retransmissionSchedule() {
        var harness = ReconcilerHarness { $0.heartbeatMs = 3_600_000 }
        let (_, welcome) = harness.connect()
        let start = harness.now
        var sends: [UInt64] = []
        sends += harness.emit("agent_started", to: welcome.session).actions.events.map { _ in 0 }
        var failedAt: UInt64?
        while failedAt == nil, let deadline = harness.machine.nextDeadline, deadline <= start + 200_000 {
            harness.now = deadline
            let actions = harness.machine.timerFired(now: deadline)
            sends += actions.events.map { _ in (deadline - start) / 1000 }
            if !actions.failures.isEmpty { failedAt = (deadline - start) / 1000 }
        }
        #expect(sends == [0, 5, 15, 35, 65])
        #expect(failedAt == 95)
    }
}

/// Bounds on what one principal can make the server hold, and the report a user may see.
@Suite("Reconciler bounds")
struct ReconcilerBoundsTests {
    @Test("sessions per principal are capped: the oldest detached goes first, then hello is refused (EA-ISO-6)")
    func sessionsPerPrincipal() {
        var harness = ReconcilerHarness { $0.maxSessionsPerPrincipal = 3 }
        var connections: [ConnectionID] = []
        for _ in 0..<3 { connections.append(harness.connect("mallory").0) }
        _ = harness.machine.connectionClosed(connections[0], now: harness.now)
        let fourth = harness.open("mallory")
        let replaced = harness.receive(ReconcilerHarness.hello(), on: fourth)
        #expect(replaced.welcomes.count == 1)
        #expect(replaced.reports.contains { if case .sessionExpired = $0 { true } else { false } })
        let fifth = harness.open("mallory")
        let refused = harness.receive(ReconcilerHarness.hello(), on: fifth)
        #expect(refused.errors.map(\.code) == [.sessionLimit])
        #expect(refused.closes == [fifth])
        #expect(harness.machine.sessions(of: "mallory").count == 3)
        #expect(harness.connect("alice").1.resumed == false, "other users are not affected")
    }

    @Test("a user's report shows only that user's sessions and runs; a capped report says what it left out")
    func scopedReport() {
        var harness = ReconcilerHarness()
        let (_, alice) = harness.connect("alice")
        let (_, bob) = harness.connect("bob")
        _ = harness.emit("agent_started", run: "alice_run", to: alice.session)
        _ = harness.emit("agent_started", run: "bob_run", to: bob.session)
        let mine = harness.machine.report(now: harness.now, principal: "alice")
        #expect(mine.sessions.map(\.principal) == ["alice"])
        #expect(mine.runs.map(\.run) == ["alice_run"])
        #expect(mine.overall.events == 1)
        let capped = harness.machine.report(now: harness.now, limit: 1)
        #expect(capped.sessions.count == 1)
        #expect(capped.omitted == ConfirmationReport.Omitted(sessions: 1, runs: 1))
    }
}
