import EventAckProtocol

/// A run's events checked against a profile before they are emitted: what a gateway does with a stream it relays (an
/// AG-UI agent's, § 13.1) so that an event the profile refuses is never published. The rules are the reconciler's own
/// (``RunProfile``, as a session applies them); an event that passes is counted as emitted, one that does not changes
/// nothing.
public struct RunChecker: Sendable {
    /// The profile the events are checked against.
    public let profile: RunProfile
    private var tracker: RunTracker
    private var nextSeq: Seq = 1

    /// A checker for a new run validated by `profile`.
    public init(profile: RunProfile) {
        self.profile = profile
        tracker = RunTracker(id: "checked")
    }

    /// What `kind` with `payload` would break, given the events that passed before: nothing means it may be emitted
    /// (and it now counts as emitted). An event after the run's terminal breaks `after_terminal`.
    public mutating func check(kind: String, payload: Payload, at time: UInt64 = 0) -> [RunFailure] {
        var next = tracker
        _ = next.observe(kind: kind, seq: nextSeq, at: time, payload: payload, origin: nil, profile: profile)
        let broken = Array(next.failures.dropFirst(tracker.failures.count))
        guard broken.isEmpty else { return broken }
        tracker = next
        nextSeq += 1
        return []
    }

    /// Whether a terminal event passed: the run is over.
    public var hasEnded: Bool { tracker.terminalKind != nil }

    /// The terminal kind that ended the run, if one did.
    public var terminalKind: String? { tracker.terminalKind }
}
