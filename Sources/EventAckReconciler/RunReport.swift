import EventAckProtocol

/// The verdict on a run.
public enum RunVerdict: String, Sendable, Hashable, Codable {
    /// Its terminal event was emitted, every event is confirmed at its level and the sequence is valid.
    case confirmed
    /// Not decided yet: the run goes on, or some events wait for confirmation.
    case pending
    /// Something went wrong; ``RunReport/failures`` says everything that did.
    case failed
}

/// What the agent said of its own run — distinct from the delivery verdict: a run whose `agent_failed` event was
/// delivered and confirmed is `confirmed` *and* `failed` here.
public enum RunOutcome: String, Sendable, Hashable, Codable {
    /// The run ended with a terminal kind that is not one of the profile's failure kinds.
    case succeeded
    /// The run ended with one of the profile's failure kinds (`agent_failed`).
    case failed
}

/// One reason a run failed: a profile violation or an event that failed at a level.
public struct RunFailure: Sendable, Hashable, Codable, CustomStringConvertible {
    /// A stable code: a ``FailureReason`` of an event (`display_timeout`, `rejected`…) or a profile violation
    /// (`missing_start`, `out_of_order`, `after_terminal`, `unknown_kind`, `unpaired_call`, `duplicate_call`,
    /// `empty_content`, `incomplete`).
    public var code: String
    /// What happened, for people.
    public var detail: String
    /// The event concerned, if one is.
    public var seq: Seq?

    /// Creates a failure.
    public init(code: String, detail: String, seq: Seq? = nil) {
        self.code = code
        self.detail = detail
        self.seq = seq
    }

    public var description: String { seq.map { "\(code) (seq \($0)): \(detail)" } ?? "\(code): \(detail)" }

    /// The codes of the run profile's findings about a run's sequence, as opposed to an event's failure at a level.
    public static let profileViolationCodes: Set<String> = [
        "missing_start", "out_of_order", "after_terminal", "unknown_kind", "unpaired_call", "duplicate_call",
        "empty_content", "incomplete",
    ]

    /// Whether this is a finding about the run's sequence (``profileViolationCodes``).
    public var isProfileViolation: Bool { Self.profileViolationCodes.contains(code) }
}

/// Everything known about one run.
public struct RunReport: Sendable, Hashable, Codable {
    /// The run id.
    public var run: String
    /// The session it was emitted to.
    public var session: SessionID
    /// The session's principal.
    public var principal: String
    /// The delivery verdict: whether every event reached the client at its level, in a valid sequence.
    public var verdict: RunVerdict
    /// What the agent reported: `nil` until the terminal event, then ``RunOutcome/succeeded`` or
    /// ``RunOutcome/failed``.
    public var outcome: RunOutcome?
    /// Every reason the run failed (empty unless ``verdict`` is `failed`; at most 64 are listed, see
    /// ``omittedFailures``).
    public var failures: [RunFailure]
    /// Failures beyond the 64 listed.
    public var omittedFailures: Int
    /// SLO breaches: warnings with the measured times.
    public var warnings: [SLOBreach]
    /// When the host said the run was requested, if it did.
    public var requestedAt: UInt64?
    /// The emit time of its first event.
    public var startedAt: UInt64?
    /// The emit time of its terminal event.
    public var endedAt: UInt64?
    /// The kind of its terminal event.
    public var terminalKind: String?
    /// Why the server ended the run itself, if it did: `agent_silent` (EA-RUN-2).
    public var endedBy: String? = nil
    /// Confirmation figures of its events.
    public var stats: ConfirmationStats
}
