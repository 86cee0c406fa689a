import EventAckProtocol
import Foundation
import Testing

@testable import EventAckReconciler

@Suite("RunReport JSON")
struct RunReportJSONTests {
    /// A report with every member set: failures, warnings, optional times, and histograms with samples.
    static func fullReport() -> RunReport {
        var stats = ConfirmationStats()
        stats.events = 7
        for latency: UInt64 in [0, 3, 15, 16, 250, 9_000] {
            stats.receipt.requested += 1
            stats.receipt.confirmed += 1
            stats.receipt.confirmedAtRequestedLevel += 1
            stats.receipt.latencyMs.record(latency)
        }
        stats.display.requested = 3
        stats.display.confirmed = 1
        stats.display.failed = 1
        stats.display.latencyMs.record(42)
        stats.value.requested = 1
        stats.countFailures("display_timeout")
        stats.countFailures("render \"failed\"\n", 2)
        stats.overdue = 1
        stats.retransmissions = 4
        stats.duplicates = 2
        return RunReport(
            run: "run_\"1\"", session: SessionID("s_1"), principal: "alice\u{2028}", verdict: .failed,
            outcome: .succeeded,
            failures: [
                RunFailure(code: "display_timeout", detail: "no display in 10 s", seq: 3),
                RunFailure(code: "incomplete", detail: "no terminal event"),
            ],
            omittedFailures: 2,
            warnings: [SLOBreach(name: "first_event", measuredMs: 1_200, limitMs: 1_000, seq: 1)],
            requestedAt: 10, startedAt: 12, endedAt: 40, terminalKind: "agent_completed", stats: stats)
    }

    @Test("the direct writer is read back by Codable, member for member like JSONEncoder")
    func matchesCodable() throws {
        var sparse = Self.fullReport()
        sparse.outcome = nil
        sparse.requestedAt = nil
        sparse.terminalKind = nil
        sparse.failures = []
        sparse.stats = ConfirmationStats()
        for report in [Self.fullReport(), sparse] {
            let text = report.json()
            #expect(try JSONDecoder().decode(RunReport.self, from: Data(text.utf8)) == report)
            let direct = try JSONSerialization.jsonObject(with: Data(text.utf8)) as? NSDictionary
            let codable = try JSONSerialization.jsonObject(with: JSONEncoder().encode(report)) as? NSDictionary
            #expect(direct != nil && direct == codable, "\(text)")
        }
    }

    @Test("a runFinished record carries the report as an object")
    func insideRecord() throws {
        let record = SessionRecord(session: SessionID("s_1"), change: .runFinished(Self.fullReport()))
        #expect(try JSONDecoder().decode(SessionRecord.self, from: Data(record.json().utf8)) == record)
    }
}
