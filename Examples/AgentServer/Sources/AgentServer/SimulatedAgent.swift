import EventAckProtocol
import EventAckReconciler
import Logging
import Synchronization

/// A pretend AI agent: on request it emits one run of the agent profile (§ 13) to a session, with realistic
/// timings. Scenarios: `quick` (a tool call, then the answer, which asks for value), `complex` (a 40-second
/// analysis, silent but for `progress` every 5 s), `tool_error` (the tool fails and the run ends `agent_failed`).
final class SimulatedAgent: Sendable {
    enum Scenario: String, Sendable, CaseIterable {
        case quick
        case complex
        case toolError = "tool_error"
    }

    let service: ReconcilerService
    let logger: Logger
    private let runCounter = Mutex(0)

    init(service: ReconcilerService, logger: Logger) {
        self.service = service
        self.logger = logger
    }

    /// Starts a run in the background and returns its name.
    func start(_ scenario: Scenario, in session: SessionID) throws(ReconcilerError) -> String {
        let name = runCounter.withLock { counter in
            counter += 1
            return "run_\(counter)"
        }
        try service.runRequested(name, in: session)
        let logger = logger
        Task {
            do {
                try await perform(scenario, run: name, session: session)
                logger.info("run finished emitting", metadata: ["run": "\(name)", "scenario": "\(scenario.rawValue)"])
            } catch {
                logger.error("run stopped", metadata: ["run": "\(name)", "error": "\(error)"])
            }
        }
        return name
    }

    private func perform(_ scenario: Scenario, run: String, session: SessionID) async throws {
        func emit(_ kind: String, _ confirm: ConfirmationLevel, _ payload: String) async throws {
            try await emitWaitingForRoom(
                run: run, kind: kind, payload: try Payload(json: payload), confirm: confirm, to: session)
        }
        try await emit("agent_started", .receipt, #"{"scenario":"\#(scenario.rawValue)"}"#)
        try await Task.sleep(for: .milliseconds(300))
        try await emit("agent_thinking", .receipt, #"{"text":"Reading the question"}"#)
        switch scenario {
        case .quick:
            try await Task.sleep(for: .milliseconds(400))
            try await emit("tool_executing", .display, #"{"call":"c1","tool":"search","args":{"q":"eventack"}}"#)
            try await Task.sleep(for: .milliseconds(800))
            try await emit("tool_completed", .display, #"{"call":"c1","output":"3 documents"}"#)
            try await Task.sleep(for: .milliseconds(300))
            try await emit("agent_completed", .value, #"{"result":"EventAck confirms delivery, display and value."}"#)
        case .complex:
            try await Task.sleep(for: .milliseconds(200))
            try await emit("agent_thinking", .receipt, #"{"text":"Starting a complex analysis (about 40 s)"}"#)
            // 40 s without events: progress every 5 s keeps the run alive on the client (EA-LIVE-2).
            for step in 1...8 {
                try await Task.sleep(for: .seconds(5))
                try service.progress(run: run, note: "analysing, step \(step) of 8", in: session)
            }
            try await emit("tool_executing", .display, #"{"call":"c1","tool":"run_sql","args":{"rows":120000}}"#)
            try await Task.sleep(for: .milliseconds(500))
            try await emit("tool_completed", .display, #"{"call":"c1","output":"120000 rows aggregated"}"#)
            try await emit("agent_completed", .value, #"{"result":"The analysis is complete."}"#)
        case .toolError:
            try await Task.sleep(for: .milliseconds(300))
            try await emit(
                "tool_executing", .display,
                #"{"call":"c1","tool":"fetch_url","args":{"url":"https://example.invalid"}}"#)
            try await Task.sleep(for: .milliseconds(600))
            try await emit(
                "tool_completed", .display, #"{"call":"c1","output":"error: upstream timed out","isError":true}"#)
            try await emit("agent_failed", .display, #"{"error":"The tool failed; no answer."}"#)
        }
    }

    /// Emits, waiting while the session's window and queue are full (EA-FLOW-2): nothing is dropped.
    func emitWaitingForRoom(
        run: String, kind: String, payload: Payload, confirm: ConfirmationLevel, to session: SessionID
    ) async throws {
        while true {
            do {
                try service.emit(run: run, kind: kind, payload: payload, confirm: confirm, to: session)
                return
            } catch  where error.code == "window_exceeded" {
                try await Task.sleep(for: .milliseconds(20))
            }
        }
    }
}
