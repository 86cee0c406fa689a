import EventAckProtocol
import EventAckReconciler
import Testing

/// The attempt limit, one rule for every cause of a resend (EA-RTX-4): what a used-up event becomes depends on the
/// cause alone.
@Suite("Attempt limit")
struct AttemptLimitTests {
    /// A session with two events in flight, each sent `maxAttempts` = 2 times already (first send + one timeout).
    static func usedUp() -> (ReconcilerHarness, ConnectionID, Welcome) {
        var harness = ReconcilerHarness {
            $0.retransmission.maxAttempts = 2
            $0.ackDelayMs = 1
            $0.heartbeatMs = 3_600_000
            $0.runProfile = nil
        }
        let (connection, welcome) = harness.connect()
        for _ in 1...3 { _ = harness.emit("note", to: welcome.session) }
        let resent = harness.advance(by: 5_000)
        #expect(resent.events.map(\.attempt) == [2, 2, 2])
        return (harness, connection, welcome)
    }

    @Test("a receipt nack past the limit fails the event with the nack's reason")
    func receiptNack() {
        var (harness, connection, _) = Self.usedUp()
        let actions = harness.receive(.nack(Nack(seq: 1, level: .receipt, reason: .undecodable)), on: connection)
        #expect(actions.events.isEmpty, "never a third send")
        #expect(actions.failures.map(\.seq) == [1])
        #expect(actions.failures.map(\.reason) == [FailureReason(.undecodable)])
    }

    @Test("a hole past the limit sends nothing and fails nothing early; the last deadline fails it, receipt_timeout")
    func hole() {
        var (harness, connection, _) = Self.usedUp()
        harness.now += 100
        let acked = harness.ack(receipt: set(0, [3...3]), on: connection)
        #expect(acked.events.isEmpty, "never a third send")
        #expect(acked.failures.isEmpty, "not before the deadline after the last attempt")
        let expired = harness.advance(by: 10_000)
        #expect(Set(expired.failures.map(\.seq)) == [1, 2])
        #expect(expired.failures.allSatisfy { $0.reason == .receiptTimeout })
    }

    @Test("a replay past the limit fails the event with receipt_timeout instead of sending it")
    func replay() throws {
        var (harness, connection, welcome) = Self.usedUp()
        _ = harness.machine.connectionClosed(connection, now: harness.now, reason: "cut")
        let again = harness.open()
        let resume = ResumeRequest(session: welcome.session, token: welcome.token, receipt: set(0))
        let actions = harness.receive(ReconcilerHarness.hello(resume: resume), on: again)
        #expect(actions.welcomes.first?.resumed == true)
        #expect(actions.events.isEmpty, "nothing is sent a third time")
        #expect(actions.failures.map(\.seq) == [1, 2, 3])
        #expect(actions.failures.allSatisfy { $0.reason == .receiptTimeout })
    }
}
