import EventAckProtocol
import EventAckReconciler
import Testing

/// What a hostile or careless peer could do to the reconciler before issue 11: each test fails on a16d03a.
@Suite("Reconciler hardening")
struct ReconcilerHardeningTests {
    @Test("a resume storm cannot defeat the attempt limit or overflow the attempt counter (EA-RTX-4, EA-MSG-14)")
    func resumeStorm() async {
        var harness = ReconcilerHarness { $0.heartbeatMs = 3_600_000 }
        var (connection, welcome) = harness.connect()
        _ = harness.emit("agent_started", to: welcome.session)
        _ = harness.emit("agent_thinking", payload: #"{"text":"t"}"#, to: welcome.session)
        var token = welcome.token
        var attempts: [Seq: UInt64] = [:]
        var failed: [(seq: Seq, level: ConfirmationLevel, reason: FailureReason)] = []
        // 100,000 resumes that never acknowledge anything (the old code trapped at 65,535).
        for round in 0..<100_000 {
            // ~30 s of work in a debug build: hand the thread back now and then, or the tests running beside this
            // one (on a 2-core machine, 2 threads) wait that long, and their clients' real timers fire meanwhile.
            if round % 1_000 == 0 { await Task.yield() }
            _ = harness.machine.connectionClosed(connection, now: harness.now)
            connection = harness.open()
            let resume = ResumeRequest(session: welcome.session, token: token, receipt: AckSet())
            let actions = harness.receive(ReconcilerHarness.hello(resume: resume), on: connection)
            token = actions.welcomes.first?.token ?? token
            for event in actions.events { attempts[event.seq] = max(attempts[event.seq] ?? 0, event.attempt) }
            failed += actions.failures
        }
        #expect(harness.machine.sessionCount == 1)
        #expect(attempts == [1: 5, 2: 5], "5 sends in all, the first included")
        #expect(failed.map(\.seq) == [1, 2])
        #expect(failed.allSatisfy { $0.reason == .receiptTimeout && $0.level == .receipt })
        #expect(harness.machine.retainedEventCount == 0)
    }

    @Test("configuration is brought into range in one place, also when assigned after init")
    func configurationRanges() {
        var configuration = ReconcilerConfiguration()
        configuration.retransmission.maxAttempts = 70_000
        configuration.retransmission.multiplier = 0
        configuration.retransmission.jitter = .nan
        configuration.window = 0
        configuration.heartbeatMs = 0
        configuration.maxFrameBytes = 10
        configuration.valueDeadline = LevelDeadline(overdueAfterMs: 0, failAfterMs: 0)
        configuration.versions = []
        let machine = Reconciler(configuration: configuration, random: SplitMix64(seed: 1))
        let used = machine.configuration
        #expect(used.retransmission.maxAttempts == RetransmissionPolicy.maxAttemptsLimit)
        #expect(RetransmissionPolicy.maxAttemptsLimit < UInt64(UInt16.max))
        #expect(used.retransmission.multiplier == 1)
        #expect(used.retransmission.jitter == 0)
        #expect(used.window == 1)
        #expect(used.heartbeatMs == 1_000)
        #expect(used.maxFrameBytes == 1024)
        #expect(used.valueDeadline == LevelDeadline(overdueAfterMs: 1, failAfterMs: 1))
        #expect(used.versions == [.current])
    }

    @Test("every refused resume reads the same on the wire; the host's report says why (EA-ISO-4)")
    func indistinguishableRefusals() {
        var harness = ReconcilerHarness()
        let (_, alice) = harness.connect("alice")
        var messages: [String] = []
        var reasons: [String] = []
        let attempts = [
            ("alice", ResumeRequest(session: "s_nope", token: alice.token, receipt: AckSet())),
            ("mallory", ResumeRequest(session: alice.session, token: alice.token, receipt: AckSet())),
            ("alice", ResumeRequest(session: alice.session, token: "t_wrong", receipt: AckSet())),
        ]
        for (principal, resume) in attempts {
            let connection = harness.open(principal)
            let actions = harness.receive(ReconcilerHarness.hello(resume: resume), on: connection)
            messages += actions.errors.filter { $0.code == .resumeRejected }.map(\.message)
            for case .resumeRejected(_, _, let reason) in actions.reports { reasons.append(reason) }
            #expect(actions.welcomes.first?.resumed == false)
        }
        #expect(messages.count == 3)
        #expect(Set(messages).count == 1, "\(messages)")
        #expect(!messages[0].contains(alice.session))
        #expect(Set(reasons).count == 3, "the host still learns which check failed")
    }

    @Test("the token resumed with has a bounded grace that replaying it does not extend (EA-RES-3)")
    func tokenGrace() {
        var harness = ReconcilerHarness {
            $0.resumeTokenGraceMs = 60_000
            $0.heartbeatMs = 3_600_000
        }
        let (first, welcome) = harness.connect()
        let old = welcome.token
        func resume(_ token: String) -> Welcome? {
            let connection = harness.open()
            let resume = ResumeRequest(session: welcome.session, token: token, receipt: AckSet())
            return harness.receive(ReconcilerHarness.hello(resume: resume), on: connection).welcomes.first
        }
        _ = harness.machine.connectionClosed(first, now: harness.now)
        // The client resumes; its welcome is lost. Replaying the old token works within the grace (the lost-welcome
        // fix), again and again, but never past the grace measured from the first replacement.
        #expect(resume(old)?.resumed == true)
        _ = harness.advance(by: 30_000)
        #expect(resume(old)?.resumed == true)
        _ = harness.advance(by: 29_999)
        #expect(resume(old)?.resumed == true)
        _ = harness.advance(by: 1)
        #expect(resume(old)?.resumed == false, "grace over: the old token is dead")
    }

    @Test("an ack on the resumed connection ends the grace at once (EA-RES-3)")
    func ackEndsGrace() {
        var harness = ReconcilerHarness { $0.heartbeatMs = 3_600_000 }
        let (first, welcome) = harness.connect()
        _ = harness.machine.connectionClosed(first, now: harness.now)
        let connection = harness.open()
        let resume = ResumeRequest(session: welcome.session, token: welcome.token, receipt: AckSet())
        let resumed = harness.receive(ReconcilerHarness.hello(resume: resume), on: connection).welcomes.first
        #expect(resumed?.resumed == true)
        _ = harness.ack(receipt: AckSet(), on: connection)
        let thief = harness.open()
        let stolen = harness.receive(ReconcilerHarness.hello(resume: resume), on: thief).welcomes.first
        #expect(stolen?.resumed == false)
    }

    @Test("client-chosen nack reasons cannot grow the report without bound")
    func reasonCardinality() {
        var harness = ReconcilerHarness { $0.heartbeatMs = 3_600_000 }
        let (connection, welcome) = harness.connect()
        for index in 0..<300 {
            _ = harness.emit("agent_started", run: "run_\(index)", confirm: .display, to: welcome.session)
        }
        _ = harness.ack(receipt: set(300), on: connection)
        for seq in Seq(1)...300 {
            let nack = Nack(seq: seq, level: .display, reason: NackReason(rawValue: "reason_\(seq)"))
            _ = harness.receive(.nack(nack), on: connection)
        }
        let reasons = harness.report().overall.failuresByReason
        #expect(reasons.count == ConfirmationStats.maxCustomReasons + 1)
        #expect(reasons[ConfirmationStats.otherReason] == UInt64(300 - ConfirmationStats.maxCustomReasons))
        #expect(reasons.values.reduce(0, +) == 300)
    }

    @Test("a nack reason with a newline cannot forge a line of the text report (EA-ISO-5)")
    func textInjection() {
        var harness = ReconcilerHarness { $0.heartbeatMs = 3_600_000 }
        let (connection, welcome) = harness.connect()
        _ = harness.emit("agent_started", confirm: .display, to: welcome.session)
        _ = harness.ack(receipt: set(1), on: connection)
        let forged = "x\nruns: confirmed 1000, pending 0, failed 0\u{202E}"
        _ = harness.receive(.nack(Nack(seq: 1, level: .display, reason: NackReason(rawValue: forged))), on: connection)
        let text = harness.report().text
        #expect(!text.split(separator: "\n").contains { $0.hasPrefix("runs: confirmed 1000") })
        #expect(text.contains(#"x\nruns: confirmed 1000"#))
        #expect(!text.unicodeScalars.contains("\u{202E}"))
    }

    @Test("value has a deadline by default: a never-valued event fails and its run is released (§ 8)")
    func defaultValueDeadline() {
        var harness = ReconcilerHarness { $0.heartbeatMs = 3_600_000 }
        let (connection, welcome) = harness.connect()
        _ = harness.emit("agent_started", to: welcome.session)
        _ = harness.emit("agent_completed", payload: #"{"result":"ok"}"#, confirm: .value, to: welcome.session)
        _ = harness.ack(receipt: set(2), display: set(2), on: connection)
        let displayedAt = harness.now
        let actions = harness.runTimers(until: displayedAt + 600_000)
        #expect(actions.failures.map(\.reason) == [.valueTimeout])
        #expect(actions.finishedRuns.map(\.verdict) == [.failed])
        #expect(harness.machine.retainedEventCount == 0)
    }

    @Test("a run whose agent failed is delivered (confirmed) and reported failed by the agent, distinctly")
    func agentOutcome() {
        var harness = ReconcilerHarness { $0.heartbeatMs = 3_600_000 }
        let (connection, welcome) = harness.connect()
        _ = harness.emit("agent_started", to: welcome.session)
        _ = harness.emit("agent_failed", payload: #"{"error":"tool crashed"}"#, to: welcome.session)
        let finished = harness.ack(receipt: set(2), on: connection).finishedRuns
        #expect(finished.map(\.verdict) == [.confirmed])
        #expect(finished.map(\.outcome) == [.failed])
        #expect(harness.report().text.contains("delivery confirmed, agent failed"))
    }

    @Test("a 1.1 session marks a run's last event with endsRun; a 1.0 session does not (EA-EVT-7)")
    func endsRunMarker() {
        var harness = ReconcilerHarness { $0.heartbeatMs = 3_600_000 }
        for (versions, expected) in [(["1.1"], true), (["1.0"], false)] {
            let connection = harness.open()
            let welcome = harness.receive(ReconcilerHarness.hello(versions: versions), on: connection).welcomes[0]
            _ = harness.emit("agent_started", to: welcome.session)
            let last = harness.emit("agent_completed", payload: #"{"result":"ok"}"#, to: welcome.session)
            let events = last.actions.events
            #expect(events.map(\.endsRun) == [expected])
            #expect(MessageCodec().encode(.event(events[0])).contains("endsRun") == expected)
        }
    }

    @Test("frames that never make a handshake do not keep a connection open (EA-HS-5)")
    func handshakeTimeout() {
        var harness = ReconcilerHarness { $0.handshakeTimeoutMs = 10_000 }
        let connection = harness.open()
        var closed = false
        for _ in 0..<20 {
            closed = !harness.advance(by: 1_000).closes.isEmpty
            if closed { break }
            #expect(harness.receive(json: "{not json", on: connection).errors.map(\.code) == [.malformedJSON])
        }
        #expect(closed)
        #expect(harness.now <= ReconcilerHarness.start + 11_000)
    }

    @Test("binary frames and text that is not UTF-8 are answered with malformed_json, not repaired (EA-MSG-12)")
    func binaryAndInvalidUTF8() {
        var harness = ReconcilerHarness()
        let (connection, _) = harness.connect()
        let binary = harness.machine.binaryFrameReceived(on: connection, now: harness.now)
        #expect(binary.errors.map(\.code) == [.malformedJSON])
        #expect(binary.closes.isEmpty)
        let invalid: [UInt8] = Array(#"{"type":"ping","id":1,"x":""#.utf8) + [0xFF, 0xFE] + Array(#""}"#.utf8)
        let answer = harness.machine.frameReceived(bytes: invalid, on: connection, now: harness.now)
        #expect(answer.errors.map(\.code) == [.malformedJSON])
        let valid = harness.machine.frameReceived(bytes: Array(#"{"type":"ping","id":2}"#.utf8), on: connection, now: 0)
        #expect(valid.messages == [.pong(id: 2)])
    }
}
