import EventAckProtocol
import EventAckReconciler
import Foundation
import Testing

/// The AG-UI run profile (§ 13.1): AG-UI's verifier's rules as data.
@Suite("AG-UI run profile")
struct AGUIProfileTests {
    typealias Step = (kind: String, payload: String, afterMs: UInt64)

    static func run(_ steps: [Step]) -> RunReport { RunProfileTests.run(steps, profile: .agUI) }

    /// A realistic run: a step, reasoning, a text message streamed in deltas around a tool call with streamed
    /// arguments and its result, state, then the end.
    static let valid: [Step] = [
        ("RUN_STARTED", #"{"threadId":"t1","runId":"r1"}"#, 0),
        ("STEP_STARTED", #"{"stepName":"plan"}"#, 10),
        ("REASONING_START", #"{"messageId":"rs1"}"#, 10),
        ("REASONING_MESSAGE_START", #"{"messageId":"rs1","role":"reasoning"}"#, 0),
        ("REASONING_MESSAGE_CONTENT", #"{"messageId":"rs1","delta":"Flights first."}"#, 0),
        ("REASONING_MESSAGE_END", #"{"messageId":"rs1"}"#, 0),
        ("REASONING_END", #"{"messageId":"rs1"}"#, 0),
        ("TEXT_MESSAGE_START", #"{"messageId":"m1","role":"assistant"}"#, 10),
        ("TEXT_MESSAGE_CONTENT", #"{"messageId":"m1","delta":"Looking "}"#, 5),
        ("TOOL_CALL_START", #"{"toolCallId":"c1","toolCallName":"search_flights","parentMessageId":"m1"}"#, 5),
        ("TOOL_CALL_ARGS", #"{"toolCallId":"c1","delta":"{\"to\":"}"#, 5),
        ("TOOL_CALL_ARGS", #"{"toolCallId":"c1","delta":"\"LIS\"}"}"#, 5),
        ("TOOL_CALL_END", #"{"toolCallId":"c1"}"#, 5),
        ("TOOL_CALL_RESULT", #"{"messageId":"tr1","toolCallId":"c1","content":"3 flights"}"#, 300),
        ("TEXT_MESSAGE_CONTENT", #"{"messageId":"m1","delta":"— found 3."}"#, 5),
        ("TEXT_MESSAGE_END", #"{"messageId":"m1"}"#, 5),
        ("STATE_SNAPSHOT", #"{"snapshot":{"flights":3}}"#, 5),
        ("STATE_DELTA", #"{"delta":[{"op":"replace","path":"/flights","value":2}]}"#, 5),
        ("STEP_FINISHED", #"{"stepName":"plan"}"#, 5),
        ("RUN_FINISHED", #"{"threadId":"t1","runId":"r1"}"#, 5),
    ]

    @Test(
        "a run with a step, reasoning, a streamed message around a tool call, and state is confirmed, succeeded (EA-AGUI-1)"
    )
    func validRun() {
        let report = Self.run(Self.valid)
        #expect(report.failures.isEmpty, "\(report.failures)")
        #expect(report.verdict == .confirmed && report.outcome == .succeeded)
        #expect(report.terminalKind == "RUN_FINISHED")
    }

    @Test(
        "each rule of AG-UI's verifier fails the run with its code (EA-AGUI-1)",
        arguments: [
            // Content of a message that was never started.
            (
                [
                    ("RUN_STARTED", "{}"), ("TEXT_MESSAGE_CONTENT", #"{"messageId":"m9","delta":"x"}"#),
                    ("RUN_FINISHED", "{}"),
                ],
                ["unpaired_call"]
            ),
            // Content of another message than the open one.
            (
                [
                    ("RUN_STARTED", "{}"), ("TEXT_MESSAGE_START", #"{"messageId":"m1"}"#),
                    ("TEXT_MESSAGE_CONTENT", #"{"messageId":"m2","delta":"x"}"#),
                    ("TEXT_MESSAGE_END", #"{"messageId":"m1"}"#),
                    ("RUN_FINISHED", "{}"),
                ], ["unpaired_call"]
            ),
            // RUN_FINISHED while a message and a step are open.
            (
                [
                    ("RUN_STARTED", "{}"), ("STEP_STARTED", #"{"stepName":"s"}"#),
                    ("TEXT_MESSAGE_START", #"{"messageId":"m1"}"#),
                    ("RUN_FINISHED", "{}"),
                ], ["unpaired_call", "unpaired_call"]
            ),
            // The first event is not RUN_STARTED.
            (
                [
                    ("TEXT_MESSAGE_START", #"{"messageId":"m1"}"#), ("TEXT_MESSAGE_END", #"{"messageId":"m1"}"#),
                    ("RUN_FINISHED", "{}"),
                ], ["missing_start"]
            ),
            // A step finished that never started.
            (
                [("RUN_STARTED", "{}"), ("STEP_FINISHED", #"{"stepName":"s"}"#), ("RUN_FINISHED", "{}")],
                ["unpaired_call"]
            ),
            // A tool call started twice under one id.
            (
                [
                    ("RUN_STARTED", "{}"), ("TOOL_CALL_START", #"{"toolCallId":"c1","toolCallName":"t"}"#),
                    ("TOOL_CALL_START", #"{"toolCallId":"c1","toolCallName":"t"}"#),
                    ("TOOL_CALL_END", #"{"toolCallId":"c1"}"#),
                    ("RUN_FINISHED", "{}"),
                ], ["duplicate_call"]
            ),
            // An empty delta, and a message without an id.
            (
                [
                    ("RUN_STARTED", "{}"), ("TEXT_MESSAGE_START", #"{"messageId":"m1"}"#),
                    ("TEXT_MESSAGE_CONTENT", #"{"messageId":"m1","delta":""}"#), ("TEXT_MESSAGE_END", #"{}"#),
                    ("TEXT_MESSAGE_END", #"{"messageId":"m1"}"#), ("RUN_FINISHED", "{}"),
                ], ["empty_content", "empty_content"]
            ),
            // Reasoning content with no reasoning message open (the deprecated THINKING names too).
            (
                [("RUN_STARTED", "{}"), ("THINKING_TEXT_MESSAGE_CONTENT", #"{"delta":"x"}"#), ("RUN_FINISHED", "{}")],
                ["unpaired_call"]
            ),
            // A kind AG-UI does not have.
            ([("RUN_STARTED", "{}"), ("TEXT_DELTA", #"{"delta":"x"}"#), ("RUN_FINISHED", "{}")], ["unknown_kind"]),
        ] as [([(String, String)], [String])]
    )
    func violations(steps: [(String, String)], codes: [String]) {
        let report = Self.run(steps.map { (kind: $0.0, payload: $0.1, afterMs: 0) })
        #expect(report.verdict == .failed)
        #expect(report.failures.map(\.code) == codes, "\(report.failures)")
    }

    @Test(
        "RUN_ERROR ends the run failed; it may come first, as AG-UI allows a run that failed before it started (EA-AGUI-2)"
    )
    func runError() {
        let failed = Self.run([
            ("RUN_STARTED", "{}", 0), ("TEXT_MESSAGE_START", #"{"messageId":"m1"}"#, 0),
            ("TEXT_MESSAGE_END", #"{"messageId":"m1"}"#, 0), ("RUN_ERROR", #"{"message":"model overloaded"}"#, 0),
        ])
        #expect(failed.outcome == .failed && failed.failures.isEmpty && failed.verdict == .confirmed)
        let early = Self.run([("RUN_ERROR", #"{"message":"no such agent"}"#, 0)])
        #expect(early.outcome == .failed && early.failures.isEmpty, "\(early.failures)")
    }

    @Test("pairings keep their rules through JSON; one written before `during` existed reads as none")
    func pairingsAsData() throws {
        let data = try JSONEncoder().encode(RunProfile.agUI)
        #expect(try JSONDecoder().decode(RunProfile.self, from: data) == .agUI)
        let old = #"{"open":"a","close":"b","key":"call"}"#
        let pairing = try JSONDecoder().decode(Pairing.self, from: Data(old.utf8))
        #expect(pairing.during.isEmpty && pairing.key == "call")
    }
}

/// A run names its profile when it is requested (§ 13.1): the server's default stays for the others.
@Suite("Per-run profiles")
struct PerRunProfileTests {
    static let aguiRun: [(String, String)] = [
        ("RUN_STARTED", "{}"), ("TEXT_MESSAGE_START", #"{"messageId":"m1"}"#),
        ("TEXT_MESSAGE_CONTENT", #"{"messageId":"m1","delta":"Hi"}"#), ("TEXT_MESSAGE_END", #"{"messageId":"m1"}"#),
        ("RUN_FINISHED", "{}"),
    ]

    /// The report of `run` after emitting the AG-UI run to it, having requested it with `profile`.
    static func report(profile: String?) throws -> RunReport {
        var harness = ReconcilerHarness()  // the agent profile by default
        let (connection, welcome) = harness.connect()
        let session = SessionID(welcome.session)
        try harness.machine.runRequested("run_1", in: session, profile: profile, now: harness.now)
        var last: Seq = 0
        for (kind, payload) in aguiRun { last = harness.emit(kind, payload: payload, to: welcome.session).seq }
        _ = harness.ack(receipt: set(last), on: connection)
        return try #require(harness.report().runs.first { $0.run == "run_1" })
    }

    @Test(
        "a run that names ag-ui is validated by AG-UI's rules; the same events under the default agent profile are not (EA-RUN-3)"
    )
    func namedProfile() throws {
        let named = try Self.report(profile: "ag-ui")
        #expect(named.failures.isEmpty && named.verdict == .confirmed && named.outcome == .succeeded)
        let unnamed = try Self.report(profile: nil)
        #expect(unnamed.verdict == .failed && unnamed.failures.first?.code == "missing_start")
    }

    @Test("a profile the server does not have is refused with invalid_argument (EA-RUN-3)")
    func unknownProfile() {
        var harness = ReconcilerHarness()
        let (_, welcome) = harness.connect()
        let error = #expect(throws: ReconcilerError.self) {
            try harness.machine.runRequested(
                "run_1", in: SessionID(welcome.session), profile: "nope", now: harness.now)
        }
        #expect(error?.code == "invalid_argument")
    }

    @Test("the profile a run named is in its record, so that a recovered session goes on validating by it (EA-RUN-3)")
    func profileIsRecorded() throws {
        let record = SessionRecord(
            session: SessionID("s_1"), change: .runRequested(run: "r", at: 5, profile: "ag-ui"))
        let decoded = try JSONDecoder().decode(SessionRecord.self, from: Data(record.json().utf8))
        #expect(decoded.change == .runRequested(run: "r", at: 5, profile: "ag-ui"))
    }
}

/// Events checked before they are emitted (what the AG-UI gateway does).
@Suite("Run checker")
struct RunCheckerTests {
    @Test("an event the profile refuses changes nothing: the next sound one passes; after the terminal nothing does")
    func refusedEventChangesNothing() throws {
        var checker = RunChecker(profile: .agUI)
        #expect(checker.check(kind: "RUN_STARTED", payload: .empty).isEmpty)
        let refused = checker.check(kind: "TEXT_MESSAGE_END", payload: try Payload(json: #"{"messageId":"m1"}"#))
        #expect(refused.map(\.code) == ["unpaired_call"])
        #expect(checker.check(kind: "TEXT_MESSAGE_START", payload: try Payload(json: #"{"messageId":"m1"}"#)).isEmpty)
        #expect(checker.check(kind: "RUN_FINISHED", payload: .empty).map(\.code) == ["unpaired_call"])
        #expect(!checker.hasEnded, "a refused terminal does not end the run")
        #expect(checker.check(kind: "TEXT_MESSAGE_END", payload: try Payload(json: #"{"messageId":"m1"}"#)).isEmpty)
        #expect(checker.check(kind: "RUN_FINISHED", payload: .empty).isEmpty && checker.hasEnded)
        #expect(checker.check(kind: "CUSTOM", payload: .empty).map(\.code) == ["after_terminal"])
    }
}
