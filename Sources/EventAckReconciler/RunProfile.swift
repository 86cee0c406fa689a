import EventAckProtocol

/// What a valid run looks like, as data: which kinds start and end it, which may occur, in what order, which
/// kinds come in pairs, which payload members must carry content, and how fast it should go. Servers validate
/// their own vocabularies (AG-UI's `RUN_STARTED … RUN_FINISHED`, say) by writing another profile.
public struct RunProfile: Sendable, Hashable, Codable {
    /// A name for reports.
    public var name: String
    /// The first event of a run must be one of these, and they occur once.
    public var startKinds: Set<String>
    /// The last event of a run is one of these; nothing may follow it.
    public var terminalKinds: Set<String>
    /// The terminal kinds that say the agent failed (`agent_failed`): the run's ``RunReport/outcome`` is then
    /// ``RunOutcome/failed``, whatever its delivery verdict.
    public var failureKinds: Set<String>
    /// The kinds allowed besides start, terminal and paired kinds; `nil` allows any kind.
    public var otherKinds: Set<String>?
    /// Extra ordering rules between kinds.
    public var ordering: [OrderingRule]
    /// Kinds that open and close a call, matched by a payload member.
    public var pairings: [Pairing]
    /// Payload members that must be present and non-empty, by kind.
    public var requiredContent: [String: [String]]
    /// Timing objectives; a breach is a warning with the measured time, not a failure.
    public var slos: [TimingSLO]
    /// The level each kind is confirmed at when its producer does not say (the publish API's events without
    /// `confirm`); kinds not listed: `receipt`.
    public var confirmLevels: [String: ConfirmationLevel]

    /// Creates a profile.
    public init(
        name: String,
        startKinds: Set<String>,
        terminalKinds: Set<String>,
        failureKinds: Set<String> = [],
        otherKinds: Set<String>? = nil,
        ordering: [OrderingRule] = [],
        pairings: [Pairing] = [],
        requiredContent: [String: [String]] = [:],
        slos: [TimingSLO] = [],
        confirmLevels: [String: ConfirmationLevel] = [:]
    ) {
        self.name = name
        self.startKinds = startKinds
        self.terminalKinds = terminalKinds
        self.failureKinds = failureKinds
        self.otherKinds = otherKinds
        self.ordering = ordering
        self.pairings = pairings
        self.requiredContent = requiredContent
        self.slos = slos
        self.confirmLevels = confirmLevels
    }

    private enum CodingKeys: String, CodingKey {
        case name, startKinds, terminalKinds, failureKinds, otherKinds, ordering, pairings, requiredContent, slos
        case confirmLevels
    }

    /// Profiles written before ``confirmLevels`` existed confirm every kind at `receipt` by default.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        name = try c.decode(String.self, forKey: .name)
        startKinds = try c.decode(Set<String>.self, forKey: .startKinds)
        terminalKinds = try c.decode(Set<String>.self, forKey: .terminalKinds)
        failureKinds = try c.decodeIfPresent(Set<String>.self, forKey: .failureKinds) ?? []
        otherKinds = try c.decodeIfPresent(Set<String>.self, forKey: .otherKinds)
        ordering = try c.decodeIfPresent([OrderingRule].self, forKey: .ordering) ?? []
        pairings = try c.decodeIfPresent([Pairing].self, forKey: .pairings) ?? []
        requiredContent = try c.decodeIfPresent([String: [String]].self, forKey: .requiredContent) ?? [:]
        slos = try c.decodeIfPresent([TimingSLO].self, forKey: .slos) ?? []
        confirmLevels = try c.decodeIfPresent([String: ConfirmationLevel].self, forKey: .confirmLevels) ?? [:]
    }

    /// The agent run of the spec's § 13: `agent_started`, then any of `agent_thinking` and paired
    /// `tool_executing`/`tool_completed` (by payload `call`), then `agent_completed` or `agent_failed`; other kinds
    /// allowed. SLOs: started ≤ 1 s after the request, first thinking ≤ 2 s after start, each tool ≤ 5 s,
    /// completed ≤ 30 s after start.
    public static let agent = RunProfile(
        name: "agent",
        startKinds: ["agent_started"],
        terminalKinds: ["agent_completed", "agent_failed"],
        failureKinds: ["agent_failed"],
        ordering: [.requires(kind: "agent_thinking", earlier: "agent_started")],
        pairings: [Pairing(open: "tool_executing", close: "tool_completed", key: "call", maxDurationMs: 5_000)],
        requiredContent: [
            "agent_thinking": ["text"], "tool_executing": ["tool"], "tool_completed": ["output"],
            "agent_completed": ["result"], "agent_failed": ["error"],
        ],
        slos: [
            TimingSLO(name: "started_after_request", from: .request, to: .first("agent_started"), limitMs: 1_000),
            TimingSLO(
                name: "thinking_after_start", from: .first("agent_started"), to: .first("agent_thinking"),
                limitMs: 2_000),
            TimingSLO(
                name: "completed_after_start", from: .first("agent_started"), to: .first("agent_completed"),
                limitMs: 30_000),
        ]
    )
}

extension RunProfile {
    /// An AG-UI run (the Agent–User Interaction protocol; § 13.1 of the spec): the rules AG-UI's own verifier enforces
    /// (`sdks/typescript/packages/client/src/verify/verify.ts` of ag-ui-protocol/ag-ui at
    /// 821b8c227c6fe7b78de2c8259173dd7cbbdf181b), on events whose kind is the AG-UI `type`. `RUN_STARTED` first
    /// (or `RUN_ERROR`: a run that failed before it started); nothing after `RUN_FINISHED` or `RUN_ERROR`; a text
    /// message's, a tool call's, a reasoning message's content needs its `*_START` with the same `messageId` /
    /// `toolCallId` open, and its `*_END` closes it; `STEP_FINISHED` closes an open `STEP_STARTED` of the same
    /// `stepName`; `RUN_FINISHED` only once every message, tool call and step is closed (each one left open is an
    /// `unpaired_call`). `RUN_FINISHED` is a success, `RUN_ERROR` a failure. `*_CHUNK` events, which AG-UI's client
    /// expands into start, content and end before it verifies, are taken as they are, unpaired. A text delta must not
    /// be empty, as AG-UI's schema says.
    public static let agUI = RunProfile(
        name: "ag-ui",
        startKinds: ["RUN_STARTED"],
        terminalKinds: ["RUN_FINISHED", "RUN_ERROR"],
        failureKinds: ["RUN_ERROR"],
        otherKinds: [
            "TEXT_MESSAGE_CHUNK", "TOOL_CALL_CHUNK", "TOOL_CALL_RESULT", "STATE_SNAPSHOT", "STATE_DELTA",
            "MESSAGES_SNAPSHOT", "ACTIVITY_SNAPSHOT", "ACTIVITY_DELTA", "RAW", "CUSTOM", "REASONING_MESSAGE_CHUNK",
            "REASONING_ENCRYPTED_VALUE",
        ],
        pairings: [
            Pairing(
                open: "TEXT_MESSAGE_START", close: "TEXT_MESSAGE_END", key: "messageId",
                during: ["TEXT_MESSAGE_CONTENT"]),
            Pairing(open: "TOOL_CALL_START", close: "TOOL_CALL_END", key: "toolCallId", during: ["TOOL_CALL_ARGS"]),
            Pairing(open: "STEP_STARTED", close: "STEP_FINISHED", key: "stepName"),
            Pairing(open: "REASONING_START", close: "REASONING_END", key: "messageId"),
            Pairing(
                open: "REASONING_MESSAGE_START", close: "REASONING_MESSAGE_END", key: "messageId",
                during: ["REASONING_MESSAGE_CONTENT"]),
            // AG-UI's deprecated names for reasoning: one at a time, no id.
            Pairing(open: "THINKING_START", close: "THINKING_END", key: nil),
            Pairing(
                open: "THINKING_TEXT_MESSAGE_START", close: "THINKING_TEXT_MESSAGE_END", key: nil,
                during: ["THINKING_TEXT_MESSAGE_CONTENT"]),
        ],
        requiredContent: ["TEXT_MESSAGE_CONTENT": ["delta"], "TOOL_CALL_START": ["toolCallName"]],
        slos: [
            TimingSLO(name: "started_after_request", from: .request, to: .first("RUN_STARTED"), limitMs: 1_000)
        ],
        // For a chat UI: deltas at receipt; what the user sees as a whole — a message once it ends, a tool's result,
        // the run's end — at display. Value is opt-in per run (a run's `confirm` levels, EA-PUB-3).
        confirmLevels: [
            "TEXT_MESSAGE_END": .display, "TOOL_CALL_RESULT": .display, "RUN_FINISHED": .display,
            "RUN_ERROR": .display,
        ]
    )

    /// The profiles a run may name when it is opened (`agent`, `ag-ui`), by name.
    public static let builtIn: [String: RunProfile] = [RunProfile.agent.name: .agent, RunProfile.agUI.name: .agUI]
}

/// An ordering rule between two kinds of one run.
public enum OrderingRule: Sendable, Hashable, Codable {
    /// `kind` may only occur after at least one `earlier` occurred.
    case requires(kind: String, earlier: String)
    /// `kind` may not occur once `later` occurred.
    case forbiddenAfter(kind: String, later: String)
}

/// Two kinds that open and close a call, matched by a payload member (`tool_executing` ↔ `tool_completed` by
/// `call`; AG-UI's `TEXT_MESSAGE_START` ↔ `TEXT_MESSAGE_END` by `messageId`). Every open needs its close before the
/// run ends; a close needs an open call; a kind ``during`` a call (AG-UI's `TEXT_MESSAGE_CONTENT`) needs one too.
public struct Pairing: Sendable, Hashable, Codable {
    /// The kind that opens a call.
    public var open: String
    /// The kind that closes it.
    public var close: String
    /// The payload member holding the call id (a non-empty string); `nil`: calls have no id, and one is open at a time
    /// (AG-UI's `THINKING_START` … `THINKING_END`).
    public var key: String?
    /// The longest a call should take: an SLO, so a breach is a warning.
    public var maxDurationMs: UInt64?
    /// Kinds that belong to an open call, matched by the same ``key``: each needs its call open (a message's
    /// content between its start and its end).
    public var during: Set<String>

    /// Creates a pairing.
    public init(
        open: String, close: String, key: String?, maxDurationMs: UInt64? = nil, during: Set<String> = []
    ) {
        self.open = open
        self.close = close
        self.key = key
        self.maxDurationMs = maxDurationMs
        self.during = during
    }

    /// Whether `kind` is this pairing's: its open, its close, or one during a call.
    public func covers(_ kind: String) -> Bool { kind == open || kind == close || during.contains(kind) }

    private enum CodingKeys: String, CodingKey { case open, close, key, maxDurationMs, during }

    /// Profiles written before ``during`` existed have none.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        open = try c.decode(String.self, forKey: .open)
        close = try c.decode(String.self, forKey: .close)
        key = try c.decodeIfPresent(String.self, forKey: .key)
        maxDurationMs = try c.decodeIfPresent(UInt64.self, forKey: .maxDurationMs)
        during = try c.decodeIfPresent(Set<String>.self, forKey: .during) ?? []
    }
}

/// A timing objective between two moments of a run, measured on the events' emit times.
public struct TimingSLO: Sendable, Hashable, Codable {
    /// A moment of a run.
    public enum Anchor: Sendable, Hashable, Codable {
        /// When the host said the run was requested (``Reconciler/runRequested(_:in:at:reportingConfirmations:idleTimeoutMs:profile:now:)``).
        case request
        /// The first event of this kind.
        case first(String)
    }

    /// A name for reports, such as `started_after_request`.
    public var name: String
    /// Where the measured time starts.
    public var from: Anchor
    /// Where it ends.
    public var to: Anchor
    /// The objective.
    public var limitMs: UInt64

    /// Creates an objective.
    public init(name: String, from: Anchor, to: Anchor, limitMs: UInt64) {
        self.name = name
        self.from = from
        self.to = to
        self.limitMs = limitMs
    }
}

/// A breached timing objective: a warning with the measured time.
public struct SLOBreach: Sendable, Hashable, Codable, CustomStringConvertible {
    /// The objective's name (a pairing's is `<close>_after_<open>`).
    public var name: String
    /// The time measured.
    public var measuredMs: UInt64
    /// The objective.
    public var limitMs: UInt64
    /// The event whose emit completed the measurement.
    public var seq: Seq

    /// Creates a breach.
    public init(name: String, measuredMs: UInt64, limitMs: UInt64, seq: Seq) {
        self.name = name
        self.measuredMs = measuredMs
        self.limitMs = limitMs
        self.seq = seq
    }

    public var description: String { "\(name): \(measuredMs) ms > \(limitMs) ms (seq \(seq))" }
}
