import EventAckPostgres
import EventAckProtocol
import EventAckReconciler
import Foundation
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

    let router: SessionRouter
    let logger: Logger
    /// Runs emitting at once per session; more are refused (HTTP 429), so that a client that never reads cannot
    /// make the server run agents for it without bound.
    let maxRunsPerSession: Int
    /// How long an agent waits for a full window to drain before it gives up on its run.
    static let maxWaitForRoom: Duration = .seconds(120)
    /// Run ids unique across nodes and restarts (EA-RUN-1): a per-process counter alone started again at 1 after a
    /// restart and merged a new run into an old one of the same session.
    private let runIDs: Mutex<RunIDGenerator>
    private let active = Mutex<[SessionID: Int]>([:])

    init(router: SessionRouter, logger: Logger, maxRunsPerSession: Int, node: String) {
        self.router = router
        self.runIDs = Mutex(RunIDGenerator(node: node, boot: UInt64.random(in: .min ... .max)))
        self.logger = logger
        self.maxRunsPerSession = max(1, maxRunsPerSession)
    }

    /// Too many runs emitting in this session already.
    struct TooManyRuns: Error {}

    /// Runs emitting now, over every session.
    var activeRuns: Int { active.withLock { $0.values.reduce(0, +) } }

    /// Starts a run in the background and returns its name.
    func start(_ scenario: Scenario, in session: SessionID) throws -> String {
        let admitted = active.withLock { active -> Bool in
            guard active[session, default: 0] < maxRunsPerSession else { return false }
            active[session, default: 0] += 1
            return true
        }
        guard admitted else { throw TooManyRuns() }
        let name = runIDs.withLock { $0.next() }
        do {
            try router.runRequested(name, in: session)
        } catch {
            finished(in: session)
            throw error
        }
        let logger = logger
        // On the event loop of the session's connection, when it is here: each emit reaches its writer there.
        Task(executorPreference: router.service.writerExecutor(of: session)) {
            defer { self.finished(in: session) }
            do {
                try await self.perform(scenario, run: name, session: session)
                logger.info("run finished emitting", metadata: ["run": "\(name)", "scenario": "\(scenario.rawValue)"])
            } catch {
                logger.error(
                    "run stopped", metadata: ["run": "\(name)", "error": "\(DisplayText.escaping("\(error)"))"])
            }
        }
        return name
    }

    private func finished(in session: SessionID) {
        active.withLock { active in
            active[session, default: 1] -= 1
            if active[session] == 0 { active[session] = nil }
        }
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
                try await router.progress(run: run, note: "analysing, step \(step) of 8", in: session)
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

    /// Emits, waiting (with backoff, bounded) while the session's window and queue are full (EA-FLOW-2) or the store
    /// cannot take more (`store_unavailable`, EA-DUR-8), and retrying a forward whose store write failed: nothing is
    /// dropped silently — a run that cannot emit for ``maxWaitForRoom`` stops with an error in the log. A forwarded
    /// event keeps one request key over its retries, so that a write whose answer was lost is stored once (EA-DUR-7).
    func emitWaitingForRoom(
        run: String, kind: String, payload: Payload, confirm: ConfirmationLevel, to session: SessionID
    ) async throws {
        let giveUp = ContinuousClock.now + Self.maxWaitForRoom
        let requestKey = UUID().uuidString
        var pause = Duration.milliseconds(20)
        while true {
            let refusal: any Error
            do {
                try await router.emit(
                    run: run, kind: kind, payload: payload, confirm: confirm, to: session, requestKey: requestKey)
                return
            } catch {
                refusal = error
            }
            let code = (refusal as? ReconcilerError)?.code
            let waits = code == nil || code == "window_exceeded" || code == "store_unavailable"
            guard waits, ContinuousClock.now < giveUp else { throw refusal }
            try await Task.sleep(for: pause)
            pause = min(pause * 2, .seconds(1))
        }
    }
}
