import EventAckProtocol
import EventAckReconciler
import Foundation
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
        ledger.emitted(
            eid: 0, session: Self.session, seq: 1, run: "run_1", agentRun: 0, level: .display, intent: .confirm)
        ledger.received(seq: 1, eid: 0, session: Self.session.rawValue)
        ledger.record(.confirmed(Self.reference(1), level: .display, latencyMs: 5))
        #expect(ledger.violations.count == 1)
        #expect(ledger.violations.first?.contains("false confirmation") == true)
    }

    @Test("settling twice, delivering out of order and delivering another session's event are caught")
    func deliveryAndSettlement() {
        var ledger = SimulationLedger()
        ledger.emitted(eid: 0, session: Self.session, seq: 1, run: "run_1", agentRun: 0, level: .receipt, intent: .none)
        ledger.emitted(
            eid: 1, session: SessionID("s_2"), seq: 1, run: "run_2", agentRun: 1, level: .receipt, intent: .none)
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
        ledger.emitted(eid: 0, session: Self.session, seq: 1, run: "run_1", agentRun: 0, level: .receipt, intent: .none)
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

    @Test("two agent runs under one run id, and a second verdict for one, are caught (EA-RUN-1)")
    func mergedRuns() {
        var ledger = SimulationLedger()
        ledger.emitted(eid: 0, session: Self.session, seq: 1, run: "run_1", agentRun: 0, level: .receipt, intent: .none)
        ledger.emitted(eid: 1, session: Self.session, seq: 2, run: "run_1", agentRun: 7, level: .receipt, intent: .none)
        #expect(ledger.violations == ["run run_1 of session s_1 holds the events of two agent runs: merged"])
        // The same id in another session is another run.
        ledger.emitted(
            eid: 2, session: SessionID("s_2"), seq: 1, run: "run_1", agentRun: 8, level: .receipt, intent: .none)
        #expect(ledger.violations.count == 1)
        let json = """
            {"run":"run_1","session":"s_1","principal":"user_0","verdict":"confirmed","failures":[],
             "omittedFailures":0,"warnings":[],"stats":\(String(decoding: try! JSONEncoder().encode(ConfirmationStats()), as: UTF8.self))}
            """
        let report = try! JSONDecoder().decode(RunReport.self, from: Data(json.utf8))
        ledger.record(.runFinished(report))
        ledger.record(.runFinished(report))
        #expect(ledger.violations.last == "run s_1/run_1 has a second verdict")
    }
}
