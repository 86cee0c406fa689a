import EventAckProtocol

/// Everything a server can tune. The defaults follow the spec's § 8 and let a 40-second agent run kept alive with
/// `progress` succeed.
///
/// Values out of range are brought into range in one place, ``normalized()``, which ``Reconciler`` applies when it
/// is created — whether a value was set in `init` or assigned afterwards.
public struct ReconcilerConfiguration: Sendable {
    /// Versions the server speaks (EA-VER-2).
    public var versions: [ProtocolVersion] = [.current]
    /// The most events outstanding per session; a client's `hello.window` can only lower it (EA-FLOW-1).
    public var window: UInt64 = 256
    /// Events queued behind a full window per session before `emit` is refused (EA-FLOW-2).
    public var maxQueuedEvents: Int = 4096
    /// Sessions one principal may hold at once (EA-ISO-6). A new one beyond it expires the principal's oldest
    /// detached session first; with none detached, the `hello` is refused with `session_limit`.
    public var maxSessionsPerPrincipal: Int = 64
    /// The ping interval announced in `welcome`; a peer silent for twice this is dead (EA-LIVE-4).
    public var heartbeatMs: UInt64 = 15_000
    /// How long a client may hold a receipt ack, and the least time between two `synced` (EA-SYNC-2).
    public var ackDelayMs: UInt64 = 20
    /// The largest frame accepted (EA-MSG-8).
    public var maxFrameBytes: Int = ProtocolLimits.defaultMaxFrameBytes
    /// How long a disconnected session can be resumed (EA-RES-5).
    public var resumeWindowMs: UInt64 = 120_000
    /// How long the token a client resumed with stays valid after it was replaced, unless the client proves it has
    /// the new one sooner by acking (EA-RES-3). Long enough for a client whose `welcome` was lost to time out its
    /// handshake (10 s) and reconnect; short enough that a leaked old token is soon worthless.
    public var resumeTokenGraceMs: UInt64 = 60_000
    /// A connection that has not completed its handshake this long after it opened is closed (EA-HS-5), whatever
    /// it sends meanwhile.
    public var handshakeTimeoutMs: UInt64 = 10_000
    /// Retransmission of events that are not receipt-acknowledged (EA-RTX-1).
    public var retransmission = RetransmissionPolicy()
    /// When an event that asks for display is overdue and then failed, counted from its receipt.
    public var displayDeadline: LevelDeadline? = LevelDeadline(overdueAfterMs: 10_000, failAfterMs: 30_000)
    /// When an event that asks for value is overdue and then failed, counted from its display. By default overdue
    /// after a minute and failed after ten: users take their time, but an event nobody ever values must not be
    /// retained (with its run) for the connection's whole life. `nil` keeps such events until the session ends.
    public var valueDeadline: LevelDeadline? = LevelDeadline(overdueAfterMs: 60_000, failAfterMs: 600_000)
    /// The profile every run is validated against unless it names another; `nil` validates nothing but
    /// confirmations.
    public var runProfile: RunProfile? = .agent
    /// The profiles a run may name when it is requested (``Reconciler/runRequested(_:in:at:reportingConfirmations:idleTimeoutMs:profile:now:)``),
    /// by name: `agent` and `ag-ui` unless set otherwise.
    public var runProfiles: [String: RunProfile] = RunProfile.builtIn

    /// The profile a run that names `name` is validated against (``runProfile`` when it names none).
    func profile(named name: String?) -> RunProfile? {
        guard let name else { return runProfile }
        return runProfiles[name] ?? runProfile
    }
    /// Ended run ids each session remembers, so that an `emit` reusing one is refused with `run_ended` instead of
    /// merging into the old run or giving its id a second verdict (EA-RUN-1). The oldest are forgotten first.
    public var endedRunsRemembered: Int = 4096
    /// Finished runs kept in ``ConfirmationReport/runs`` (the totals keep counting).
    public var retainedRunReports: Int = 1000
    /// Ended sessions kept in ``ConfirmationReport/sessions``.
    public var retainedSessionReports: Int = 1000
    /// Whether every event confirmed at its level produces a ``ReconciliationEvent/confirmed(_:level:latencyMs:)``.
    /// Overdue, failure, SLO and run events are always produced.
    public var reportsEachConfirmation = true
    /// How long a run's producer may stay silent — no emit, no progress — before the server ends the run itself with
    /// the profile's failure terminal and `agent_silent` (EA-RUN-2); a run may name its own
    /// (``Reconciler/runRequested(_:in:at:reportingConfirmations:idleTimeoutMs:profile:now:)``). `nil`: runs wait for their
    /// producer for ever (the default; the AgentServer sets 60 s).
    public var runIdleTimeoutMs: UInt64? = nil

    /// The defaults.
    public init() {}

    /// The one place where values are brought into range: a version offered, window 1…2^53 − 1, heartbeat
    /// 1 s…1 h, ack delay ≤ 10 s, frame limit 1 KiB…64 MiB, timeouts and windows ≥ 1 ms and ≤ a day, and the
    /// retransmission policy's own ranges (``RetransmissionPolicy/normalized()``).
    public func normalized() -> ReconcilerConfiguration {
        let day: UInt64 = 86_400_000
        var copy = self
        if copy.versions.isEmpty { copy.versions = [.current] }
        copy.window = min(max(1, window), ProtocolLimits.maxSeq)
        copy.maxQueuedEvents = min(max(0, maxQueuedEvents), 1 << 24)
        copy.maxSessionsPerPrincipal = min(max(1, maxSessionsPerPrincipal), 1 << 20)
        copy.heartbeatMs = min(max(1_000, heartbeatMs), 3_600_000)
        copy.ackDelayMs = min(ackDelayMs, 10_000)
        copy.maxFrameBytes = min(max(1024, maxFrameBytes), 64 << 20)
        copy.resumeWindowMs = min(max(1, resumeWindowMs), day)
        copy.resumeTokenGraceMs = min(resumeTokenGraceMs, day)
        copy.handshakeTimeoutMs = min(max(1, handshakeTimeoutMs), day)
        copy.retransmission = retransmission.normalized()
        copy.displayDeadline = displayDeadline.map { $0.normalized() }
        copy.valueDeadline = valueDeadline.map { $0.normalized() }
        copy.retainedRunReports = max(0, retainedRunReports)
        copy.retainedSessionReports = max(0, retainedSessionReports)
        return copy
    }
}

/// Retransmission of unacknowledged events: exponential backoff with jitter, a bounded number of attempts.
public struct RetransmissionPolicy: Sendable, Hashable {
    /// The receipt deadline after the first send.
    public var initialDelayMs: UInt64 = 5_000
    /// Each retransmission multiplies the deadline by this.
    public var multiplier: UInt64 = 2
    /// The longest deadline.
    public var maxDelayMs: UInt64 = 30_000
    /// Up to this fraction of the deadline is added at random, so that clients that lost the same frames do not
    /// get their retransmissions in lockstep.
    public var jitter: Double = 0.1
    /// Sends (the first included, resume replays included: EA-RTX-4) before the event fails with
    /// `receipt_timeout`. At most ``maxAttemptsLimit``.
    public var maxAttempts: UInt64 = 5

    /// The largest ``maxAttempts``: the attempt counter of a retained event is 16 bits wide.
    public static let maxAttemptsLimit: UInt64 = 1_000

    /// The defaults: 5 s, ×2, at most 30 s, 10 % jitter, 5 attempts.
    public init() {}

    /// Brought into range: first deadline 1 ms…1 h, multiplier 1…16, cap between the first deadline and a day,
    /// jitter 0…1, attempts 1…``maxAttemptsLimit``.
    public func normalized() -> RetransmissionPolicy {
        var copy = self
        copy.initialDelayMs = min(max(1, initialDelayMs), 3_600_000)
        copy.multiplier = min(max(1, multiplier), 16)
        copy.maxDelayMs = min(max(copy.initialDelayMs, maxDelayMs), 86_400_000)
        copy.jitter = jitter.isFinite ? min(max(jitter, 0), 1) : 0
        copy.maxAttempts = min(max(1, maxAttempts), Self.maxAttemptsLimit)
        return copy
    }

    /// The receipt deadline after send number `attempt` (1 for the first send); `random` is uniform.
    public func delayMs(afterAttempt attempt: UInt64, random: UInt64) -> UInt64 {
        var delay = initialDelayMs
        var step: UInt64 = 1
        while step < attempt, delay < maxDelayMs {
            delay = delay.multipliedReportingOverflow(by: max(multiplier, 1)).partialValue
            step += 1
        }
        delay = min(delay, maxDelayMs)
        let spread = UInt64(Double(delay) * min(max(jitter, 0), 1))
        return delay + (spread == 0 ? 0 : random % (spread + 1))
    }
}

/// The deadline of a level: first overdue (reported), then failed (final). Never resent (EA-RTX-3).
public struct LevelDeadline: Sendable, Hashable {
    /// After this the event is overdue.
    public var overdueAfterMs: UInt64
    /// After this the event fails; at least ``overdueAfterMs``.
    public var failAfterMs: UInt64

    /// Creates a deadline; `failAfterMs` below `overdueAfterMs` is raised to it.
    public init(overdueAfterMs: UInt64, failAfterMs: UInt64) {
        self.overdueAfterMs = overdueAfterMs
        self.failAfterMs = max(failAfterMs, overdueAfterMs)
    }

    /// At least 1 ms, at most a day, and failing no sooner than overdue (also when assigned after `init`).
    public func normalized() -> LevelDeadline {
        let day: UInt64 = 86_400_000
        let overdue = min(max(1, overdueAfterMs), day)
        return LevelDeadline(overdueAfterMs: overdue, failAfterMs: min(max(overdue, failAfterMs), day))
    }
}

extension ReconcilerConfiguration {
    /// The deadline of a confirmation awaited at `level`: display or value (§ 8). A receipt has none of these: it
    /// is retransmitted instead (``retransmission``).
    func deadline(awaiting level: ConfirmationLevel) -> LevelDeadline? {
        switch level {
        case .receipt: nil
        case .display: displayDeadline
        case .value: valueDeadline
        }
    }
}
