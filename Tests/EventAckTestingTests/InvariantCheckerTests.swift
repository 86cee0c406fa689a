import EventAckProtocol
import EventAckReconciler
import Testing

@testable import EventAckTesting

/// Each invariant, broken by hand, is reported.
@Suite("Invariant checker")
struct InvariantCheckerTests {
    static let session = SessionID("s_1")

    static func reference(_ seq: Seq) -> EventReference {
        EventReference(session: session, principal: "user_0", run: "run_1", seq: seq, kind: "agent_thinking")
    }

    @Test("a confirmation the client never gave is a false confirmation (invariant 2)")
    func falseConfirmation() {
        var ledger = SimulationLedger()
        ledger.emitted(eid: 0, session: Self.session, seq: 1, run: "run_1", level: .display, intent: .confirm)
        ledger.received(seq: 1, eid: 0, session: Self.session.rawValue)
        ledger.record(.confirmed(Self.reference(1), level: .display, latencyMs: 5))
        #expect(ledger.violations.count == 1)
        #expect(ledger.violations.first?.contains("false confirmation") == true)
    }

    @Test("settling twice, delivering out of order and delivering another session's event are caught")
    func deliveryAndSettlement() {
        var ledger = SimulationLedger()
        ledger.emitted(eid: 0, session: Self.session, seq: 1, run: "run_1", level: .receipt, intent: .none)
        ledger.emitted(eid: 1, session: SessionID("s_2"), seq: 1, run: "run_2", level: .receipt, intent: .none)
        ledger.received(seq: 1, eid: 0, session: Self.session.rawValue)
        ledger.record(.confirmed(Self.reference(1), level: .receipt, latencyMs: 1))
        ledger.record(.failed(Self.reference(1), level: .receipt, reason: .receiptTimeout))
        ledger.delivered(seq: 1, eid: 0, session: Self.session.rawValue)
        ledger.delivered(seq: 1, eid: 0, session: Self.session.rawValue)
        ledger.delivered(seq: 1, eid: 1, session: Self.session.rawValue)
        #expect(ledger.violations.contains { $0.contains("settled twice") })
        #expect(ledger.violations.contains { $0.contains("not exactly once in order") })
        #expect(ledger.violations.contains { $0.contains("which is seq 1 of session s_2") })
    }

    @Test("a report that disagrees with the tally is caught (invariant 4)")
    func reportDisagrees() {
        var ledger = SimulationLedger()
        ledger.emitted(eid: 0, session: Self.session, seq: 1, run: "run_1", level: .receipt, intent: .none)
        ledger.received(seq: 1, eid: 0, session: Self.session.rawValue)
        ledger.record(.confirmed(Self.reference(1), level: .receipt, latencyMs: 1))
        var overall = ConfirmationStats()
        overall.events = 2
        overall.receipt.requested = 2
        overall.receipt.confirmed = 1
        overall.receipt.confirmedAtRequestedLevel = 1
        let report = ConfirmationReport(generatedAt: 0, overall: overall, runVerdicts: [:], sessions: [], runs: [])
        let violations = InvariantChecker(ledger: ledger, report: report, faults: .mixed, liveSessions: [:])
            .violations()
        #expect(violations.contains("report says 2 events, the simulator counted 1"))
        #expect(violations.contains("report says 1 pending, the simulator counted 0"))
        #expect(violations.contains { $0.contains("run_1") && $0.contains("never finished") })
    }
}
