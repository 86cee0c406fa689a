import EventAckProtocol
import EventAckReconciler
import Foundation
import Testing

/// Report figures, the histogram and the JSON and text forms.
@Suite("Confirmation report")
struct ConfirmationReportTests {
    @Test("percentiles are exact below 16 ms and within 12.5 % above")
    func histogram() {
        var histogram = LatencyHistogram()
        for value in 1...10 { histogram.record(UInt64(value)) }
        #expect(histogram.percentile(0.5) == 5)
        #expect(histogram.percentile(0.9) == 9)
        #expect(histogram.percentile(1) == 10)
        var random = SplitMix64(seed: 3)
        var samples: [UInt64] = []
        var large = LatencyHistogram()
        for _ in 0..<10_000 {
            let value = 16 + random.next() % 100_000
            samples.append(value)
            large.record(value)
        }
        samples.sort()
        for fraction in [0.5, 0.9, 0.99] {
            let exact = Double(samples[Int((Double(samples.count) * fraction).rounded(.up)) - 1])
            let estimate = Double(large.percentile(fraction))
            #expect(estimate >= exact && estimate <= exact * 1.125, "p\(fraction): \(estimate) vs \(exact)")
        }
        #expect(large.max == samples.last)
        var merged = histogram
        merged.merge(large)
        #expect(merged.count == 10_010)
        #expect(merged.max == large.max)
    }

    @Test("counts, rates and latencies per level, failures by reason, per run and session")
    func figures() {
        var harness = ReconcilerHarness()
        let (connection, welcome) = harness.connect()
        _ = harness.emit("agent_started", to: welcome.session)
        _ = harness.emit("agent_thinking", payload: #"{"text":"t"}"#, confirm: .display, to: welcome.session)
        _ = harness.emit("agent_completed", payload: #"{"result":"r"}"#, confirm: .value, to: welcome.session)
        harness.now += 40
        _ = harness.ack(receipt: set(3), on: connection)
        harness.now += 60
        _ = harness.ack(display: set(3), on: connection)
        _ = harness.receive(.nack(Nack(seq: 3, level: .value, reason: .dismissed)), on: connection)
        let report = harness.report()
        let overall = report.overall
        #expect(overall.events == 3)
        #expect(overall.receipt.requested == 3)
        #expect(overall.receipt.confirmed == 3)
        #expect(overall.display.requested == 2)
        #expect(overall.display.confirmed == 2)
        #expect(overall.value.requested == 1)
        #expect(overall.value.failed == 1)
        #expect(overall.value.rate == 0)
        #expect(overall.confirmed == 2)
        #expect(overall.failed == 1)
        #expect(overall.pending == 0)
        #expect(overall.failuresByReason == ["dismissed": 1])
        #expect(overall.receipt.latencyMs.percentile(0.5) == 40)
        #expect(overall.display.latencyMs.max == 100)
        #expect(report.runVerdicts == ["failed": 1])
        #expect(report.sessions.map(\.stats) == [overall])
        #expect(report.runs.first?.stats == overall)
        // JSON round trip keeps every figure; the text form names the failure.
        let data = try! JSONEncoder().encode(report)
        let decoded = try! JSONDecoder().decode(ConfirmationReport.self, from: data)
        #expect(decoded == report)
        let json = String(decoding: data, as: UTF8.self)
        #expect(json.contains(#""p99":"#))
        #expect(json.contains(#""session":"\#(welcome.session)""#), "a session id is a bare string")
        let reason = try! JSONEncoder().encode([FailureReason.displayTimeout])
        #expect(String(decoding: reason, as: UTF8.self) == #"["display_timeout"]"#)
        #expect(report.text.contains("failed: dismissed (seq 3)"))
        #expect(report.text.contains("value: 0/1"))
    }

    @Test("merged reports add up")
    func merge() {
        var harness = ReconcilerHarness()
        let (connection, welcome) = harness.connect()
        _ = harness.emit("agent_started", to: welcome.session)
        _ = harness.ack(receipt: set(1), on: connection)
        var merged = harness.report()
        merged.merge(harness.report())
        #expect(merged.overall.events == 2)
        #expect(merged.overall.receipt.latencyMs.count == 2)
        #expect(merged.sessions.count == 2)
    }
}
