import EventAckProtocol
import Testing

@testable import EventAckClient

/// What a hostile server, or a server going away, could do to the client before issue 11: each test fails on
/// a16d03a.
@Suite("Client hardening")
struct ClientHardeningTests {
    typealias T = ClientStateMachineTests

    @Test("after a server bye with an ack pending, no deadline of the dead link keeps firing (no spin)")
    func noSpinAfterBye() {
        var machine = T.connectedMachine()
        _ = machine.messageReceived(.event(T.event(1)), now: 0)
        #expect(machine.nextDeadline == 20, "the coalesced ack")
        _ = machine.messageReceived(.bye(reason: "restarting"), now: 5)
        for now in UInt64(20)..<1_000 {
            _ = machine.timerFired(now: now)
            if let next = machine.nextDeadline { #expect(next > now, "re-armed at \(next) at \(now)") }
        }
        // The same after a fatal error.
        var other = T.connectedMachine()
        _ = other.messageReceived(.event(T.event(1)), now: 0)
        _ = other.messageReceived(.error(ErrorMessage(code: .internal, message: "x", fatal: true)), now: 5)
        _ = other.timerFired(now: 20)
        #expect((other.nextDeadline ?? .max) > 20)
    }

    @Test("a zero resend interval assigned after init cannot make the client spin")
    func configurationAfterInit() {
        var configuration = ClientConfiguration(client: T.info)
        configuration.confirmationResendMs = 0
        configuration.ackBatchSize = 0
        let machine = ClientStateMachine(configuration: configuration)
        #expect(machine.configuration.confirmationResendMs == 1)
        #expect(machine.configuration.ackBatchSize == 1)
    }

    @Test("one hostile synced below a far event costs one range, not 2^53 seqs (EA-SYNC-5)")
    func farSkipIsOneRange() {
        var machine = T.connectedMachine()
        let far = ProtocolLimits.maxSeq
        _ = machine.messageReceived(.event(T.event(far)), now: 1)
        let actions = machine.messageReceived(.synced(Synced(receipt: AckSet(upTo: far - 1))), now: 2)
        #expect(actions == [.signal(.eventsLost(1...(far - 1))), .deliver(T.event(far))])
        #expect(machine.heldEventCount == 0)
    }

    @Test("a synced reaching beyond the window above anything seen is refused with ack_unknown_seq (EA-SYNC-6)")
    func syncedBeyondWindow() {
        var machine = T.connectedMachine()
        _ = machine.messageReceived(.event(T.event(5)), now: 1)
        let actions = machine.messageReceived(.synced(Synced(receipt: AckSet(upTo: 10_000))), now: 2)
        guard case .send(.error(let error)) = actions.first else {
            Issue.record("expected an error, got \(actions)")
            return
        }
        #expect(error.code == .ackUnknownSeq)
        #expect(error.fatal == false)
        #expect(machine.heldEventCount == 1, "nothing skipped")
        #expect(machine.isConnected)
    }

    @Test("skipped seqs join the receipt set, so failures never stay holes (EA-ACK-8)")
    func skippedSeqsCloseHoles() {
        var machine = T.connectedMachine()
        _ = machine.messageReceived(.event(T.event(1)), now: 0)
        _ = machine.messageReceived(.event(T.event(3)), now: 1)
        _ = machine.messageReceived(.synced(Synced(receipt: T.receipt(upTo: 1, [3...3]).union(AckSet([2])))), now: 2)
        let actions = machine.messageReceived(.event(T.event(4)), now: 3) + machine.timerFired(now: 100)
        let acks = actions.compactMap { if case .send(.ack(let ack)) = $0 { ack } else { nil } }
        #expect(acks.last?.receipt == AckSet(upTo: 4))
    }

    @Test("a session reset names the runs it ends; ended runs are not named (EA-RES-8)")
    func resetNamesOpenRuns() {
        var machine = T.connectedMachine()
        var ended = T.event(1, run: "done", kind: "agent_completed")
        ended.endsRun = true
        _ = machine.messageReceived(.event(ended), now: 0)
        _ = machine.messageReceived(.event(T.event(2, run: "open")), now: 0)
        _ = machine.connectionClosed(now: 10)
        _ = machine.connected(now: 20)
        _ = machine.messageReceived(.error(ErrorMessage(code: .resumeRejected, message: "gone", fatal: false)), now: 21)
        var fresh = T.welcome
        fresh.session = "s2"
        let actions = machine.messageReceived(.welcome(fresh), now: 22)
        guard case .signal(.sessionReset(let reset)) = actions.first else {
            Issue.record("expected a reset, got \(actions)")
            return
        }
        #expect(reset.endedRuns == ["open"])
        #expect(reset.reason == .resumeRejected)
        #expect(reset.message == "gone")
        // The ended run does not stall later.
        #expect(
            !machine.timerFired(now: 200_000).contains { if case .signal(.runStalled) = $0 { true } else { false } })
    }

    @Test("1.1 ends runs by the server's marker; 1.0 by the configured kinds (EA-EVT-7)")
    func runEndByVersion() {
        var modern = T.connectedMachine()
        var custom = T.event(1, run: "r", kind: "RUN_FINISHED")
        custom.endsRun = true
        #expect(
            modern.messageReceived(.event(custom), now: 0).contains(.signal(.runEnded(run: "r", kind: "RUN_FINISHED"))))
        var legacy = ClientStateMachine(configuration: ClientConfiguration(client: T.info))
        _ = legacy.connected(now: 0)
        var welcome = T.welcome
        welcome.version = .initial
        _ = legacy.messageReceived(.welcome(welcome), now: 0)
        let completed = T.event(1, run: "r", kind: "agent_completed")
        #expect(
            legacy.messageReceived(.event(completed), now: 1).contains(
                .signal(.runEnded(run: "r", kind: "agent_completed"))))
    }

    @Test("a server that opens runs without end cannot grow the client's run table without bound")
    func boundedRuns() {
        var machine = T.connectedMachine()
        for index in 0..<(RunLiveness.maxRuns + 500) {
            _ = machine.messageReceived(.progress(Progress(run: "run_\(index)", ts: 0)), now: UInt64(index))
        }
        #expect(machine.runs.runs.count == RunLiveness.maxRuns)
        #expect(machine.runs.runs["run_0"] == nil, "the least recently active went first")
    }

    @Test("close without a connection ends at its deadline and lists what stays unconfirmed (EA-BYE-2)")
    func closeWhileDisconnected() {
        var machine = T.connectedMachine()
        _ = machine.messageReceived(.event(T.event(1, confirm: .display)), now: 0)
        _ = try? machine.markDisplayed(1, now: 1)
        _ = machine.connectionClosed(now: 2)
        #expect(machine.close(now: 3, timeoutMs: 1_000) == [])
        #expect(machine.nextDeadline == 1_003)
        let actions = machine.timerFired(now: 1_003)
        guard case .closed(let report) = actions.last else {
            Issue.record("expected closed, got \(actions)")
            return
        }
        #expect(report.isComplete == false)
        #expect(report.unsynced == [1])
        #expect(machine.connected(now: 2_000) == [])
    }

    @Test("after a server bye the client reconnects and resumes (EA-BYE-3)")
    func resumeAfterServerBye() {
        var machine = T.connectedMachine()
        _ = machine.messageReceived(.event(T.event(1)), now: 0)
        let actions = machine.messageReceived(.bye(reason: "deploy"), now: 1)
        #expect(actions == [.signal(.disconnected(reason: "deploy")), .closeConnection(reason: "bye")])
        let hello = machine.connected(now: 100)
        guard case .send(.hello(let resumeHello)) = hello.first else {
            Issue.record("expected hello, got \(hello)")
            return
        }
        #expect(resumeHello.resume?.session == "s1")
        #expect(resumeHello.resume?.receipt == AckSet(upTo: 1))
    }

    @Test("session_expired resets the session and closes the connection (EA-ERR-3, EA-RES-8)")
    func sessionExpiredError() {
        var machine = T.connectedMachine()
        _ = machine.messageReceived(.event(T.event(1, run: "r9")), now: 0)
        let error = ErrorMessage(code: .sessionExpired, message: "expired", fatal: true)
        let actions = machine.messageReceived(.error(error), now: 1)
        #expect(
            actions.contains(
                .signal(
                    .sessionReset(
                        SessionReset(
                            session: "s1", reason: .sessionExpired, message: "expired", unconfirmed: [], lost: nil,
                            endedRuns: ["r9"])))))
        #expect(actions.contains(.closeConnection(reason: "session_expired")))
        #expect(machine.sessionID == nil)
    }
}
