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
        slos: [TimingSLO] = []
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

/// An ordering rule between two kinds of one run.
public enum OrderingRule: Sendable, Hashable, Codable {
    /// `kind` may only occur after at least one `earlier` occurred.
    case requires(kind: String, earlier: String)
    /// `kind` may not occur once `later` occurred.
    case forbiddenAfter(kind: String, later: String)
}

/// Two kinds that open and close a call, matched by a payload member (`tool_executing` ↔ `tool_completed` by
/// `call`). Every open needs its close before the run ends; a close needs an open call.
public struct Pairing: Sendable, Hashable, Codable {
    /// The kind that opens a call.
    public var open: String
    /// The kind that closes it.
    public var close: String
    /// The payload member holding the call id (a non-empty string).
    public var key: String
    /// The longest a call should take: an SLO, so a breach is a warning.
    public var maxDurationMs: UInt64?

    /// Creates a pairing.
    public init(open: String, close: String, key: String, maxDurationMs: UInt64? = nil) {
        self.open = open
        self.close = close
        self.key = key
        self.maxDurationMs = maxDurationMs
    }
}

/// A timing objective between two moments of a run, measured on the events' emit times.
public struct TimingSLO: Sendable, Hashable, Codable {
    /// A moment of a run.
    public enum Anchor: Sendable, Hashable, Codable {
        /// When the host said the run was requested (``Reconciler/runRequested(_:in:at:reportingConfirmations:idleTimeoutMs:now:)``).
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
