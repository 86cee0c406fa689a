import EventAckProtocol
import EventAckReconciler
import Testing

/// Handshake, resume, expiry and isolation (§ 5, § 10).
@Suite("Reconciler sessions")
struct ReconcilerSessionTests {
    @Test("hello is answered with welcome; the window is the smaller of both")
    func handshake() {
        var harness = ReconcilerHarness { $0.window = 128 }
        let connection = harness.open()
        let actions = harness.receive(ReconcilerHarness.hello(window: 64), on: connection)
        let welcome = try! #require(actions.welcomes.first)
        #expect(welcome.version == ProtocolVersion.initial, "a 1.0 client gets 1.0 from a 1.1 server (EA-VER-2)")
        #expect(welcome.resumed == false)
        #expect(welcome.window == 64)
        #expect(welcome.heartbeatMs == 15_000)
        #expect(welcome.token.count == 34, "t_ + 128 bits in hex")
        #expect(
            actions.reports == [
                .sessionOpened(SessionID(welcome.session), principal: "alice", connection: connection, resumed: false)
            ])
        #expect(harness.machine.session(on: connection) == SessionID(welcome.session))
    }

    @Test("anything before hello is a fatal handshake_required (EA-HS-1)")
    func messageBeforeHello() {
        var harness = ReconcilerHarness()
        let connection = harness.open()
        let actions = harness.receive(.ping(id: 1), on: connection)
        #expect(actions.errors.map(\.code) == [.handshakeRequired])
        #expect(actions.errors.first?.fatal == true)
        #expect(actions.closes == [connection])
        #expect(harness.receive(ReconcilerHarness.hello(), on: connection).isEmpty, "the connection is gone")
    }

    @Test("no common major version: fatal unsupported_version (EA-VER-2)")
    func unsupportedVersion() {
        var harness = ReconcilerHarness()
        let connection = harness.open()
        let actions = harness.receive(ReconcilerHarness.hello(versions: ["2.0"]), on: connection)
        #expect(actions.errors.map(\.code) == [.unsupportedVersion])
        #expect(actions.closes == [connection])
        #expect(harness.machine.sessionCount == 0)
    }

    @Test("resume: new token, receipt applied, synced, unacknowledged events replayed in order (EA-RES-3)")
    func resumeAccepted() {
        var harness = ReconcilerHarness()
        let (first, welcome) = harness.connect()
        for kind in ["agent_started", "agent_thinking", "agent_thinking"] {
            _ = harness.emit(kind, payload: #"{"text":"x"}"#, to: welcome.session)
        }
        _ = harness.machine.connectionClosed(first, now: harness.now)
        harness.now += 5_000
        let second = harness.open()
        let resume = ResumeRequest(session: welcome.session, token: welcome.token, receipt: set(1))
        let actions = harness.receive(ReconcilerHarness.hello(resume: resume), on: second)
        let resumed = try! #require(actions.welcomes.first)
        #expect(resumed.resumed)
        #expect(resumed.session == welcome.session)
        #expect(resumed.token != welcome.token)
        #expect(actions.synceds.first?.receipt == set(1))
        #expect(actions.events.map(\.seq) == [2, 3])
        #expect(actions.events.map(\.attempt) == [2, 2])
        // The old token stops working once the client acks with the new one in hand (EA-RES-3).
        _ = harness.ack(receipt: set(3), on: second)
        _ = harness.machine.connectionClosed(second, now: harness.now)
        let third = harness.open()
        let stale = ResumeRequest(session: welcome.session, token: welcome.token, receipt: set(1))
        let refused = harness.receive(ReconcilerHarness.hello(resume: stale), on: third)
        #expect(refused.errors.map(\.code) == [.resumeRejected])
    }

    @Test("a welcome lost with its connection does not lose the session: the presented token lasts until an ack")
    func resumeAfterLostWelcome() {
        // Found by `eventack simulate`: the server rotated the token, the welcome carrying the new one was lost with
        // its connection, and the client's next resume with the token it had was rejected, losing the session.
        var harness = ReconcilerHarness()
        let (first, welcome) = harness.connect()
        _ = harness.emit("agent_started", to: welcome.session)
        _ = harness.machine.connectionClosed(first, now: harness.now)
        let second = harness.open()
        let resume = ResumeRequest(session: welcome.session, token: welcome.token, receipt: AckSet())
        let lost = try! #require(harness.receive(ReconcilerHarness.hello(resume: resume), on: second).welcomes.first)
        _ = harness.machine.connectionClosed(second, now: harness.now)
        // The client never saw `lost.token` and tries again with the token it has.
        let third = harness.open()
        let retry = harness.receive(ReconcilerHarness.hello(resume: resume), on: third)
        #expect(retry.errors.isEmpty)
        let resumed = try! #require(retry.welcomes.first)
        #expect(resumed.resumed && resumed.session == welcome.session)
        #expect(retry.events.map(\.seq) == [1])
        // The token of the lost welcome was never held by the client: it dies with the next rotation.
        _ = harness.ack(receipt: set(1), on: third)
        _ = harness.machine.connectionClosed(third, now: harness.now)
        for token in [welcome.token, lost.token] {
            let connection = harness.open()
            let stale = ResumeRequest(session: welcome.session, token: token, receipt: set(1))
            #expect(
                harness.receive(ReconcilerHarness.hello(resume: stale), on: connection).errors.map(\.code) == [
                    .resumeRejected
                ])
        }
    }

    @Test("resume is rejected for a wrong token, another principal, or an unknown session (EA-RES-2)")
    func resumeRejected() {
        var harness = ReconcilerHarness()
        let (first, welcome) = harness.connect("alice")
        _ = harness.emit("agent_started", to: welcome.session)
        _ = harness.machine.connectionClosed(first, now: harness.now)
        let attempts: [(String, ResumeRequest)] = [
            ("alice", ResumeRequest(session: welcome.session, token: "t_guess", receipt: AckSet())),
            ("mallory", ResumeRequest(session: welcome.session, token: welcome.token, receipt: AckSet())),
            ("alice", ResumeRequest(session: "s_unknown", token: welcome.token, receipt: AckSet())),
        ]
        for (principal, resume) in attempts {
            let connection = harness.open(principal)
            let actions = harness.receive(ReconcilerHarness.hello(resume: resume), on: connection)
            #expect(actions.errors.map(\.code) == [.resumeRejected])
            #expect(actions.errors.first?.fatal == false)
            let fresh = try! #require(actions.welcomes.first)
            #expect(!fresh.resumed)
            #expect(fresh.session != welcome.session)
            #expect(actions.events.isEmpty, "nothing of the other session leaks")
            let rejection = actions.reports.contains {
                if case .resumeRejected(let requested, _, let reason) = $0 {
                    return requested.rawValue == resume.session && !reason.contains(welcome.token)
                }
                return false
            }
            #expect(rejection)
        }
        // The original session is untouched and still resumable by its owner.
        let owner = harness.open("alice")
        let resume = ResumeRequest(session: welcome.session, token: welcome.token, receipt: AckSet())
        let actions = harness.receive(ReconcilerHarness.hello(resume: resume), on: owner)
        #expect(actions.welcomes.first?.resumed == true)
        #expect(actions.events.map(\.seq) == [1])
    }

    @Test("a session not resumed within the window expires; its events fail session_expired (EA-RES-5)")
    func expiry() {
        var harness = ReconcilerHarness {
            $0.resumeWindowMs = 60_000
            $0.displayDeadline = nil
        }
        let (connection, welcome) = harness.connect()
        _ = harness.emit("agent_started", confirm: .display, to: welcome.session)
        _ = harness.emit("agent_thinking", payload: #"{"text":"hm"}"#, to: welcome.session)
        _ = harness.ack(receipt: set(1), on: connection)
        _ = harness.machine.connectionClosed(connection, now: harness.now)
        let before = harness.runTimers(until: harness.now + 59_999)
        #expect(before.failures.isEmpty)
        let actions = harness.runTimers(until: harness.now + 1)
        #expect(actions.failures.map(\.seq) == [1, 2])
        #expect(actions.failures.map(\.reason) == [.sessionExpired, .sessionExpired])
        #expect(actions.failures.map(\.level) == [.display, .receipt])
        #expect(
            actions.reports.contains(.sessionExpired(SessionID(welcome.session), principal: "alice", unconfirmed: 2)))
        #expect(actions.finishedRuns.map(\.verdict) == [.failed])
        #expect(actions.finishedRuns.first?.failures.map(\.code).contains("incomplete") == true)
        #expect(harness.machine.sessionCount == 0)
        // Resuming afterwards is refused.
        let late = harness.open()
        let resume = ResumeRequest(session: welcome.session, token: welcome.token, receipt: AckSet())
        #expect(
            harness.receive(ReconcilerHarness.hello(resume: resume), on: late).errors.map(\.code) == [.resumeRejected])
        #expect(throws: ReconcilerError.self) {
            try harness.machine.emit(run: "r", kind: "k", to: SessionID(welcome.session), now: harness.now)
        }
    }

    @Test("expiry with settled events behind an unsettled head fails exactly the unsettled ones")
    func expiryAcrossSettledEvents() {
        // Found by `eventack simulate`: failing the head dropped the settled events behind it from the ring, and the
        // expiry loop then read a seq no longer retained and crashed.
        var harness = ReconcilerHarness {
            $0.resumeWindowMs = 60_000
            $0.displayDeadline = nil
        }
        let (connection, welcome) = harness.connect()
        _ = harness.emit("agent_started", confirm: .display, to: welcome.session)
        for _ in 0..<3 { _ = harness.emit("agent_thinking", payload: #"{"text":"hm"}"#, to: welcome.session) }
        _ = harness.emit("agent_thinking", payload: #"{"text":"hm"}"#, confirm: .display, to: welcome.session)
        _ = harness.ack(receipt: set(5), on: connection)
        _ = harness.machine.connectionClosed(connection, now: harness.now)
        let actions = harness.runTimers(until: harness.now + 60_000)
        #expect(actions.failures.map(\.seq) == [1, 5])
        #expect(actions.failures.allSatisfy { $0.reason == .sessionExpired })
        #expect(
            actions.reports.contains(.sessionExpired(SessionID(welcome.session), principal: "alice", unconfirmed: 2)))
        #expect(harness.machine.sessionCount == 0)
    }

    @Test("many sessions: seqs start at 1 in each, acks of one never touch another (EA-ISO-1)")
    func isolation() {
        var harness = ReconcilerHarness()
        var sessions: [(ConnectionID, Welcome)] = []
        for user in 0..<50 { sessions.append(harness.connect("user\(user % 10)")) }
        for round in 0..<4 {
            for (index, session) in sessions.enumerated() {
                let emission = harness.emit("agent_thinking", run: "run_\(index)", to: session.1.session)
                #expect(emission.seq == Seq(round + 1))
                #expect(emission.actions.messages.count == 1)
                if case .send(_, let target) = emission.actions[0] { #expect(target == session.0) }
            }
        }
        // Session 0 acks seq 1…4 (its own) and then tries seq 5, which only exists nowhere.
        let (connection, _) = sessions[0]
        _ = harness.ack(receipt: set(4), on: connection)
        let bad = harness.ack(receipt: set(5), on: connection)
        #expect(bad.errors.map(\.code) == [.ackUnknownSeq])
        let report = harness.report()
        for (index, session) in sessions.enumerated() {
            let stats = try! #require(report.sessions.first { $0.session.rawValue == session.1.session }).stats
            #expect(stats.receipt.confirmed == (index == 0 ? 4 : 0))
            #expect(stats.events == 4)
        }
        #expect(report.overall.receipt.confirmed == 4)
    }
}
