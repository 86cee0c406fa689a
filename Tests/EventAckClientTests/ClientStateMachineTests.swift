import EventAckProtocol
import Testing

@testable import EventAckClient

/// Straight-line chains: each input, the exact actions expected.
@Suite("ClientStateMachine")
struct ClientStateMachineTests {
    static let info = ClientInfo(name: "test", version: "1")
    static let welcome = Welcome(
        session: "s1", token: "t1", resumed: false, heartbeatMs: 10_000, ackDelayMs: 20, window: 256)

    static func event(
        _ seq: Seq, run: String = "r1", kind: String = "agent_thinking", confirm: ConfirmationLevel = .receipt
    )
        -> Event
    {
        Event(seq: seq, run: run, kind: kind, ts: 0, confirm: confirm, payload: .empty)
    }

    /// A machine past its handshake at time 0.
    static func connectedMachine(
        _ configuration: ClientConfiguration = ClientConfiguration(client: info),
        heartbeatMs: UInt64 = 10_000
    ) -> ClientStateMachine {
        var machine = ClientStateMachine(configuration: configuration)
        _ = machine.connected(now: 0)
        var welcome = welcome
        welcome.heartbeatMs = heartbeatMs
        _ = machine.messageReceived(.welcome(welcome), now: 0)
        return machine
    }

    static func receipt(upTo: Seq, _ ranges: [ClosedRange<Seq>] = []) -> AckSet {
        try! AckSet(upTo: upTo, ranges: ranges)
    }

    @Test("hello, then welcome opens the session")
    func handshake() {
        var machine = ClientStateMachine(configuration: ClientConfiguration(client: Self.info, window: 64))
        #expect(machine.connected(now: 0) == [.send(.hello(Hello(client: Self.info, window: 64)))])
        #expect(
            machine.messageReceived(.welcome(Self.welcome), now: 1) == [
                .signal(.connected(session: "s1", resumed: false))
            ])
        #expect(machine.sessionID == "s1")
        #expect(machine.isConnected)
    }

    @Test("an event before welcome is refused with handshake_required")
    func eventBeforeWelcome() {
        var machine = ClientStateMachine(configuration: ClientConfiguration(client: Self.info))
        _ = machine.connected(now: 0)
        let actions = machine.messageReceived(.event(Self.event(1)), now: 1)
        #expect(actions.count == 3)
        guard case .send(.error(let error)) = actions.first else {
            Issue.record("expected an error frame, got \(actions)")
            return
        }
        #expect(error.code == .handshakeRequired)
        #expect(error.fatal)
        #expect(actions.last == .closeConnection(reason: "handshake_required"))
        #expect(!actions.contains { if case .deliver = $0 { true } else { false } })
    }

    @Test("in-order events are delivered and the ack is coalesced until the ack delay")
    func coalescingByDelay() {
        var machine = Self.connectedMachine()
        #expect(machine.messageReceived(.event(Self.event(1)), now: 100) == [.deliver(Self.event(1))])
        #expect(machine.messageReceived(.event(Self.event(2)), now: 105) == [.deliver(Self.event(2))])
        #expect(machine.nextDeadline == 120)
        #expect(machine.timerFired(now: 119) == [])
        #expect(machine.timerFired(now: 120) == [.send(.ack(Ack(receipt: Self.receipt(upTo: 2))))])
        #expect(machine.timerFired(now: 121) == [])
    }

    @Test("a full batch is acked at once, never one frame per event")
    func coalescingByCount() {
        var machine = Self.connectedMachine(ClientConfiguration(client: Self.info, ackBatchSize: 3))
        var acks = 0
        for seq in Seq(1)...9 {
            for action in machine.messageReceived(.event(Self.event(seq)), now: 50) {
                if case .send(.ack) = action { acks += 1 }
            }
        }
        #expect(acks == 3)
    }

    @Test("duplicates are not delivered again but are acknowledged again")
    func duplicates() {
        var machine = Self.connectedMachine()
        _ = machine.messageReceived(.event(Self.event(1)), now: 0)
        _ = machine.timerFired(now: 20)
        var retransmitted = Self.event(1)
        retransmitted.attempt = 2
        #expect(machine.messageReceived(.event(retransmitted), now: 30) == [])
        #expect(machine.timerFired(now: 50) == [.send(.ack(Ack(receipt: Self.receipt(upTo: 1))))])
    }

    @Test("a gap holds later events, acks with ranges at once, and delivers in order once filled")
    func gapFilledByRetransmission() {
        var machine = Self.connectedMachine()
        #expect(machine.messageReceived(.event(Self.event(1)), now: 0) == [.deliver(Self.event(1))])
        #expect(
            machine.messageReceived(.event(Self.event(3)), now: 1)
                == [.send(.ack(Ack(receipt: Self.receipt(upTo: 1, [3...3]))))])
        #expect(
            machine.messageReceived(.event(Self.event(4)), now: 2)
                == [.send(.ack(Ack(receipt: Self.receipt(upTo: 1, [3...4]))))])
        #expect(
            machine.messageReceived(.event(Self.event(2)), now: 3)
                == [.deliver(Self.event(2)), .deliver(Self.event(3)), .deliver(Self.event(4))])
        #expect(machine.timerFired(now: 23) == [.send(.ack(Ack(receipt: Self.receipt(upTo: 4))))])
    }

    @Test("display and value: implication, idempotence and local misuse")
    func confirmations() throws {
        var machine = Self.connectedMachine()
        _ = machine.messageReceived(.event(Self.event(1, confirm: .display)), now: 0)
        _ = machine.messageReceived(.event(Self.event(2, confirm: .value)), now: 0)
        _ = machine.messageReceived(.event(Self.event(3)), now: 0)
        _ = machine.timerFired(now: 20)
        #expect(machine.outstanding().map(\.seq) == [1, 2])

        #expect(throws: ClientUsageError.notDelivered(9)) { try machine.markDisplayed(9, now: 21) }
        #expect(throws: ClientUsageError.levelNotRequested(3, .display)) { try machine.markDisplayed(3, now: 21) }
        #expect(throws: ClientUsageError.levelNotRequested(1, .value)) { try machine.confirmValue(1, now: 21) }

        #expect(try machine.markDisplayed(1, now: 30) == [])
        #expect(try machine.markDisplayed(1, now: 31) == [])  // idempotent
        #expect(try machine.confirmValue(2, signal: "copied", score: 1, now: 32) == [])
        #expect(machine.outstanding().isEmpty)
        // Seq 3 asks only for receipt; the display set carries it to stay compact (EA-ACK-7).
        let expected = Ack(
            receipt: Self.receipt(upTo: 3), display: Self.receipt(upTo: 3),
            value: [ValueConfirmation(seq: 2, signal: "copied", score: 1)])
        #expect(machine.timerFired(now: 50) == [.send(.ack(expected))])
    }

    @Test("receipt-only events fill the display set: 200 interleaved events make one range, not 100 (EA-ACK-7)")
    func compactDisplaySet() throws {
        var machine = Self.connectedMachine()
        for seq in Seq(1)...200 {
            _ = machine.messageReceived(.event(Self.event(seq, confirm: seq % 2 == 0 ? .display : .receipt)), now: 0)
        }
        for seq in stride(from: Seq(2), through: 200, by: 2) { _ = try machine.markDisplayed(seq, now: 1) }
        let acks = machine.timerFired(now: 100).compactMap { action -> Ack? in
            if case .send(.ack(let ack)) = action { return ack }
            return nil
        }
        #expect(acks.last?.display == Self.receipt(upTo: 200))
    }

    @Test("reject sends a nack at once and ends the event's wait")
    func rejection() throws {
        var machine = Self.connectedMachine()
        _ = machine.messageReceived(.event(Self.event(1, confirm: .value)), now: 0)
        _ = machine.timerFired(now: 20)
        #expect(throws: ClientUsageError.levelNotRequested(1, .receipt)) {
            try machine.reject(1, level: .receipt, reason: .rejected, now: 21)
        }
        let actions = try machine.reject(1, level: .value, reason: .rejected, detail: "wrong answer", now: 22)
        #expect(
            actions == [
                .send(.ack(Ack(receipt: Self.receipt(upTo: 1)))),
                .send(.nack(Nack(seq: 1, level: .value, reason: .rejected, detail: "wrong answer"))),
            ])
        #expect(machine.outstanding().isEmpty)
    }

    /// EA-RES-3, found by the SPIN model (Spec/model): the server takes an ack or nack on a resumed connection as
    /// proof that the client holds the new token; sent before the `welcome` carrying it, it would end the grace of
    /// the old token, and a `welcome` lost with its connection would then lose the session.
    @Test("between hello and welcome a resuming client sends no ack or nack, whatever the app or its timers do")
    func nothingBeforeWelcome() throws {
        var machine = Self.connectedMachine()
        _ = machine.messageReceived(.event(Self.event(1, confirm: .display)), now: 0)
        _ = machine.messageReceived(.event(Self.event(2, confirm: .display)), now: 0)
        _ = machine.timerFired(now: 20)
        _ = machine.connectionClosed(now: 30)
        _ = machine.connected(now: 40)
        var during: [ClientAction] = []
        during += try machine.markDisplayed(1, now: 41)
        during += try machine.reject(2, level: .display, reason: .rejected, detail: nil, now: 42)
        for now in stride(from: UInt64(50), through: 10_000, by: 500) { during += machine.timerFired(now: now) }
        #expect(
            !during.contains {
                if case .send(.ack) = $0 { true } else if case .send(.nack) = $0 { true } else { false }
            })
        var resumed = Self.welcome
        resumed.resumed = true
        resumed.token = "t2"
        let after = machine.messageReceived(.welcome(resumed), now: 10_001)
        #expect(
            after.contains { if case .send(.ack(let ack)) = $0 { ack.display?.contains(1) == true } else { false } })
        #expect(after.contains { if case .send(.nack(let nack)) = $0 { nack.seq == 2 } else { false } })
    }

    @Test("confirmations are retained across a reconnect and released by synced")
    func resumeWithRetainedConfirmations() throws {
        var machine = Self.connectedMachine()
        _ = machine.messageReceived(.event(Self.event(1, confirm: .value)), now: 0)
        _ = machine.messageReceived(.event(Self.event(2, confirm: .display)), now: 0)
        _ = try machine.confirmValue(1, now: 5)
        _ = try machine.markDisplayed(2, now: 6)
        _ = machine.timerFired(now: 20)  // the ack is lost with the connection
        #expect(machine.connectionClosed(now: 30) == [.signal(.disconnected(reason: "connection closed"))])

        let resume = ResumeRequest(session: "s1", token: "t1", receipt: Self.receipt(upTo: 2))
        #expect(machine.connected(now: 40) == [.send(.hello(Hello(client: Self.info, resume: resume)))])
        var resumed = Self.welcome
        resumed.resumed = true
        resumed.token = "t2"
        let retained = Ack(
            receipt: Self.receipt(upTo: 2), display: Self.receipt(upTo: 2), value: [ValueConfirmation(seq: 1)])
        #expect(
            machine.messageReceived(.welcome(resumed), now: 41)
                == [.signal(.connected(session: "s1", resumed: true)), .send(.ack(retained))])
        // The server's echo releases them: nothing is resent on the next reconnect.
        let echo = Synced(receipt: Self.receipt(upTo: 2), display: Self.receipt(upTo: 2), value: Self.receipt(upTo: 1))
        #expect(machine.messageReceived(.synced(echo), now: 42) == [])
        _ = machine.connectionClosed(now: 50)
        let resume2 = ResumeRequest(session: "s1", token: "t2", receipt: Self.receipt(upTo: 2))
        #expect(machine.connected(now: 60) == [.send(.hello(Hello(client: Self.info, resume: resume2)))])
        #expect(
            machine.messageReceived(.welcome(resumed), now: 61)
                == [
                    .signal(.connected(session: "s1", resumed: true)), .send(.ack(Ack(receipt: Self.receipt(upTo: 2)))),
                ])
        // A redelivered seq after resume is not delivered twice.
        #expect(machine.messageReceived(.event(Self.event(2, confirm: .display)), now: 62) == [])
    }

    @Test("a rejected resume reports what can no longer be confirmed and starts afresh")
    func resumeRejected() {
        var machine = Self.connectedMachine()
        _ = machine.messageReceived(.event(Self.event(1, confirm: .display)), now: 0)
        _ = machine.connectionClosed(now: 10)
        _ = machine.connected(now: 20)
        let rejection = ErrorMessage(code: .resumeRejected, message: "expired", fatal: false)
        #expect(machine.messageReceived(.error(rejection), now: 21) == [.signal(.serverError(rejection))])
        var fresh = Self.welcome
        fresh.session = "s2"
        #expect(
            machine.messageReceived(.welcome(fresh), now: 22)
                == [
                    .signal(
                        .sessionReset(
                            SessionReset(
                                session: "s1", reason: .resumeRejected, message: "expired", unconfirmed: [1],
                                lost: nil, endedRuns: ["r1"]))),
                    .signal(.connected(session: "s2", resumed: false)),
                ])
        #expect(machine.messageReceived(.event(Self.event(1)), now: 23) == [.deliver(Self.event(1))])
    }

    @Test("a run stalls after its idle timeout; progress extends it and activity resumes it")
    func runStall() {
        var machine = Self.connectedMachine(
            ClientConfiguration(client: Self.info, runIdleTimeoutMs: 60_000), heartbeatMs: 300_000)
        _ = machine.messageReceived(.event(Self.event(1, run: "long")), now: 0)
        _ = machine.timerFired(now: 20)
        #expect(machine.messageReceived(.progress(Progress(run: "long", ts: 0)), now: 5_000) == [])
        #expect(machine.messageReceived(.ping(id: 1), now: 9_000) == [.send(.pong(id: 1))])
        #expect(machine.nextDeadline == 65_000)
        _ = machine.messageReceived(.progress(Progress(run: "long", ts: 0)), now: 15_000)
        #expect(machine.timerFired(now: 64_999).contains(.signal(.runStalled(run: "long", idleMs: 60_000))) == false)
        let late = machine.timerFired(now: 75_000)
        #expect(late.contains(.signal(.runStalled(run: "long", idleMs: 60_000))))
        #expect(
            machine.timerFired(now: 80_000).contains { if case .signal(.runStalled) = $0 { true } else { false } }
                == false)
        var last = Self.event(2, run: "long", kind: "agent_completed")
        last.endsRun = true
        #expect(
            machine.messageReceived(.event(last), now: 80_001)
                == [
                    .signal(.runResumed(run: "long")), .deliver(last),
                    .signal(.runEnded(run: "long", kind: "agent_completed")),
                ])
    }

    @Test("silence for twice the heartbeat closes the connection; idleness sends pings")
    func deadConnection() {
        var machine = Self.connectedMachine()
        #expect(machine.nextDeadline == 10_000)
        #expect(machine.timerFired(now: 10_000) == [.send(.ping(id: 1))])
        #expect(
            machine.timerFired(now: 20_000)
                == [.signal(.connectionDead(silentMs: 20_000)), .closeConnection(reason: "no frame for 20000 ms")])
        #expect(!machine.isConnected)
    }

    @Test("bad frames are answered and change nothing")
    func badFrames() {
        var machine = Self.connectedMachine()
        _ = machine.messageReceived(.event(Self.event(1)), now: 0)
        let garbage = machine.frameReceived("{not json", now: 1)
        guard case .send(.error(let error)) = garbage.first else {
            Issue.record("expected an error, got \(garbage)")
            return
        }
        #expect(error.code == .malformedJSON)
        #expect(error.fatal == false)
        let undecodable = machine.frameReceived(
            #"{"type":"event","seq":2,"run":"r1","kind":"k","ts":0,"confirm":"maybe","attempt":1,"payload":{}}"#, now: 2
        )
        guard case .send(.nack(let nack)) = undecodable.first else {
            Issue.record("expected a nack, got \(undecodable)")
            return
        }
        #expect(nack.seq == 2)
        #expect(nack.reason == .undecodable)
        #expect(machine.isConnected)
        // State is intact: seq 2 is still expected and is delivered when it arrives well-formed.
        #expect(machine.messageReceived(.event(Self.event(2)), now: 3) == [.deliver(Self.event(2))])
    }

    @Test("close flushes the pending ack, waits for synced, then says bye (EA-BYE-1, EA-BYE-2)")
    func closing() {
        var machine = Self.connectedMachine()
        _ = machine.messageReceived(.event(Self.event(1)), now: 0)
        #expect(machine.close(now: 1) == [.send(.ack(Ack(receipt: Self.receipt(upTo: 1))))])
        #expect(machine.isClosing)
        #expect(
            machine.messageReceived(.synced(Synced(receipt: Self.receipt(upTo: 1))), now: 2) == [
                .send(.bye(reason: "client closed")),
                .closed(CloseReport(isComplete: true, unsynced: [], unechoedReceipts: [], outstanding: [])),
            ])
        #expect(machine.messageReceived(.event(Self.event(2)), now: 3) == [])
        #expect(machine.nextDeadline == nil)
    }
}
