import EventAckProtocol
import EventAckReconciler
import Foundation
import Testing

/// Run validation against the agent profile and custom profiles (§ 13).
@Suite("Run profiles")
struct RunProfileTests {
    /// Emits `kinds` of one run (payload per kind) and acks them all at once; returns the run's report.
    static func run(
        _ steps: [(kind: String, payload: String, afterMs: UInt64)],
        requestedAt: UInt64? = nil,
        profile: RunProfile = .agent
    ) -> RunReport {
        var harness = ReconcilerHarness { $0.runProfile = profile }
        let (connection, welcome) = harness.connect()
        if let requestedAt {
            harness.now += requestedAt
            try! harness.machine.runRequested("run_1", in: SessionID(welcome.session), now: ReconcilerHarness.start)
        }
        var last: Seq = 0
        for step in steps {
            harness.now += step.afterMs
            last = harness.emit(step.kind, payload: step.payload, to: welcome.session).seq
            _ = harness.receive(.ping(id: 0), on: connection)
        }
        _ = harness.ack(receipt: set(last), on: connection)
        return harness.report().runs.first { $0.run == "run_1" }!
    }

    static let valid: [(kind: String, payload: String, afterMs: UInt64)] = [
        ("agent_started", "{}", 0),
        ("agent_thinking", #"{"text":"Let me look"}"#, 300),
        ("tool_executing", #"{"call":"c1","tool":"search"}"#, 200),
        ("agent_thinking", #"{"text":"Reading results"}"#, 100),
        ("tool_completed", #"{"call":"c1","output":"3 hits"}"#, 900),
        ("agent_completed", #"{"result":"Here you go"}"#, 500),
    ]

    @Test("a well-formed agent run, thinking interleaved with a tool call, is confirmed with no warning")
    func validRun() {
        let report = Self.run(Self.valid, requestedAt: 400)
        #expect(report.verdict == .confirmed)
        #expect(report.failures.isEmpty)
        #expect(report.warnings.isEmpty)
        #expect(report.terminalKind == "agent_completed")
        #expect(report.stats.receipt.confirmed == 6)
    }

    @Test(
        "each violation fails the run with its code",
        arguments: [
            (
                [("agent_thinking", #"{"text":"x"}"#, UInt64(0)), ("agent_completed", #"{"result":"r"}"#, 0)],
                ["missing_start", "out_of_order"]
            ),
            (
                [("agent_started", "{}", 0), ("agent_started", "{}", 0), ("agent_completed", #"{"result":"r"}"#, 0)],
                ["out_of_order"]
            ),
            (
                [
                    ("agent_started", "{}", 0), ("agent_thinking", #"{"text":""}"#, 0),
                    ("agent_completed", #"{"result":"r"}"#, 0),
                ],
                ["empty_content"]
            ),
            (
                [
                    ("agent_started", "{}", 0), ("tool_executing", #"{"call":"c1","tool":"t"}"#, 0),
                    ("agent_completed", #"{"result":"r"}"#, 0),
                ], ["unpaired_call"]
            ),
            (
                [
                    ("agent_started", "{}", 0), ("tool_completed", #"{"call":"c9","output":"o"}"#, 0),
                    ("agent_completed", #"{"result":"r"}"#, 0),
                ], ["unpaired_call"]
            ),
            (
                [
                    ("agent_started", "{}", 0), ("tool_executing", #"{"call":"c1","tool":"t"}"#, 0),
                    ("tool_executing", #"{"call":"c1","tool":"t"}"#, 0),
                    ("tool_completed", #"{"call":"c1","output":"o"}"#, 0),
                    ("agent_completed", #"{"result":"r"}"#, 0),
                ], ["duplicate_call"]
            ),
            (
                [
                    ("agent_started", "{}", 0), ("tool_executing", #"{"tool":"t"}"#, 0),
                    ("agent_completed", #"{"result":"r"}"#, 0),
                ], ["empty_content"]
            ),
        ] as [([(String, String, UInt64)], [String])]
    )
    func violations(steps: [(String, String, UInt64)], codes: [String]) {
        let report = Self.run(steps.map { (kind: $0.0, payload: $0.1, afterMs: $0.2) })
        #expect(report.verdict == .failed)
        #expect(report.failures.map(\.code) == codes)
    }

    @Test("SLO breaches are warnings with the measured times")
    func sloWarnings() {
        let steps: [(kind: String, payload: String, afterMs: UInt64)] = [
            ("agent_started", "{}", 0),
            ("agent_thinking", #"{"text":"slow"}"#, 2_500),
            ("tool_executing", #"{"call":"c1","tool":"crawl"}"#, 0),
            ("tool_completed", #"{"call":"c1","output":"done"}"#, 6_000),
            ("agent_completed", #"{"result":"r"}"#, 25_000),
        ]
        let report = Self.run(steps, requestedAt: 1_500)
        #expect(report.verdict == .confirmed, "warnings do not fail a run")
        #expect(
            report.warnings.map(\.name) == [
                "started_after_request", "thinking_after_start", "tool_completed_after_tool_executing",
                "completed_after_start",
            ])
        #expect(report.warnings.map(\.measuredMs) == [1_500, 2_500, 6_000, 33_500])
        #expect(report.warnings.map(\.limitMs) == [1_000, 2_000, 5_000, 30_000])
    }

    @Test("a custom profile: another vocabulary with a closed set of kinds")
    func customProfile() {
        let agUI = RunProfile(
            name: "ag-ui", startKinds: ["RUN_STARTED"], terminalKinds: ["RUN_FINISHED", "RUN_ERROR"],
            otherKinds: ["TEXT_MESSAGE_CONTENT"],
            ordering: [.forbiddenAfter(kind: "TEXT_MESSAGE_CONTENT", later: "RUN_ERROR")],
            requiredContent: ["TEXT_MESSAGE_CONTENT": ["delta"]])
        let good = Self.run(
            [("RUN_STARTED", "{}", 0), ("TEXT_MESSAGE_CONTENT", #"{"delta":"Hi"}"#, 0), ("RUN_FINISHED", "{}", 0)],
            profile: agUI)
        #expect(good.verdict == .confirmed)
        let bad = Self.run(
            [("RUN_STARTED", "{}", 0), ("STEP_STARTED", "{}", 0), ("RUN_FINISHED", "{}", 0)], profile: agUI)
        #expect(bad.failures.map(\.code) == ["unknown_kind"])
        // Profiles are data: they round-trip through JSON.
        let data = try! JSONEncoder().encode(agUI)
        #expect(try! JSONDecoder().decode(RunProfile.self, from: data) == agUI)
    }
}
