import EventAckProtocol

/// One step of a simulated agent run: wait, then emit an event or say `progress`.
struct AgentStep: Sendable {
    enum Action: Sendable {
        /// `members` are the payload's JSON members besides the simulator's own `eid`.
        case emit(kind: String, confirm: ConfirmationLevel, members: String)
        case progress(note: String)
    }

    var afterMs: UInt64
    var action: Action
}

/// Agent runs of the spec's § 13 profile, drawn from the seed: started, then thinking and paired tool calls
/// (interleaved, some with a tool error), then completed (value) or failed; sometimes a 40-second analysis kept
/// alive by `progress`.
enum AgentScript {
    static func make(scenario: SimulationScenario, random: inout SplitMix64) -> [AgentStep] {
        func step() -> UInt64 { random.next(in: scenario.agentStepMs) }
        var steps = [AgentStep(afterMs: 0, action: .emit(kind: "agent_started", confirm: .receipt, members: ""))]
        let middle = Int(random.next(in: 1...4))
        for call in 0..<middle {
            if random.chance(0.5) {
                steps.append(
                    AgentStep(
                        afterMs: step(),
                        action: .emit(kind: "agent_thinking", confirm: .receipt, members: #""text":"considering""#)))
            } else {
                let tool = ["search", "read_file", "run_sql"][Int(random.next() % 3)]
                steps.append(
                    AgentStep(
                        afterMs: step(),
                        action: .emit(
                            kind: "tool_executing", confirm: .display, members: #""call":"c\#(call)","tool":"\#(tool)""#
                        )))
                let output = random.chance(0.1) ? "error: tool timed out" : "42 rows"
                steps.append(
                    AgentStep(
                        afterMs: step(),
                        action: .emit(
                            kind: "tool_completed", confirm: .display,
                            members: #""call":"c\#(call)","output":"\#(output)""#)))
            }
        }
        if random.chance(scenario.longRunProbability) {
            steps.append(
                AgentStep(
                    afterMs: step(),
                    action: .emit(kind: "agent_thinking", confirm: .receipt, members: #""text":"complex analysis""#)))
            for _ in 0..<8 { steps.append(AgentStep(afterMs: 5_000, action: .progress(note: "analysing"))) }
        }
        if random.chance(scenario.failedRunProbability) {
            steps.append(
                AgentStep(
                    afterMs: step(),
                    action: .emit(kind: "agent_failed", confirm: .display, members: #""error":"quota""#)))
        } else {
            steps.append(
                AgentStep(
                    afterMs: step(),
                    action: .emit(kind: "agent_completed", confirm: .value, members: #""result":"done""#)
                ))
        }
        return steps
    }
}

extension SplitMix64 {
    /// A uniform draw in `range` (modulo bias is irrelevant at these sizes).
    mutating func next(in range: ClosedRange<UInt64>) -> UInt64 {
        let width = range.upperBound - range.lowerBound
        return width == .max ? next() : range.lowerBound + next() % (width + 1)
    }

    /// True with probability `p`.
    mutating func chance(_ p: Double) -> Bool {
        p > 0 && Double(next() >> 11) * 0x1p-53 < p
    }
}
