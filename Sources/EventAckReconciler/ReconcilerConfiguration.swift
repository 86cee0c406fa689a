import EventAckProtocol

/// Everything a server can tune. The defaults follow the spec's § 8 and let a 40-second agent run kept alive with
/// `progress` succeed.
public struct ReconcilerConfiguration: Sendable {
    /// Versions the server speaks (EA-VER-2).
    public var versions: [ProtocolVersion] = [.current]
    /// The most events outstanding per session; a client's `hello.window` can only lower it (EA-FLOW-1).
    public var window: UInt64 = 256
    /// Events queued behind a full window per session before `emit` is refused (EA-FLOW-2).
    public var maxQueuedEvents: Int = 4096
    /// The ping interval announced in `welcome`; a peer silent for twice this is dead (EA-LIVE-4).
    public var heartbeatMs: UInt64 = 15_000
    /// How long a client may hold a receipt ack, and the least time between two `synced` (EA-SYNC-2).
    public var ackDelayMs: UInt64 = 20
    /// The largest frame accepted (EA-MSG-8).
    public var maxFrameBytes: Int = ProtocolLimits.defaultMaxFrameBytes
    /// How long a disconnected session can be resumed (EA-RES-5).
    public var resumeWindowMs: UInt64 = 120_000
    /// Retransmission of events that are not receipt-acknowledged (EA-RTX-1).
    public var retransmission = RetransmissionPolicy()
    /// When an event that asks for display is overdue and then failed, counted from its receipt.
    public var displayDeadline: LevelDeadline? = LevelDeadline(overdueAfterMs: 10_000, failAfterMs: 30_000)
    /// When an event that asks for value is overdue and then failed, counted from its display. None by default:
    /// users take their time.
    public var valueDeadline: LevelDeadline?
    /// The profile every run is validated against; `nil` validates nothing but confirmations.
    public var runProfile: RunProfile? = .agent
    /// Finished runs kept in ``ConfirmationReport/runs`` (the totals keep counting).
    public var retainedRunReports: Int = 1000
    /// Ended sessions kept in ``ConfirmationReport/sessions``.
    public var retainedSessionReports: Int = 1000
    /// Whether every event confirmed at its level produces a ``ReconciliationEvent/confirmed(_:level:latencyMs:)``.
    /// Overdue, failure, SLO and run events are always produced.
    public var reportsEachConfirmation = true

    /// The defaults.
    public init() {}
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
    /// Sends (the first included) before the event fails with `receipt_timeout`.
    public var maxAttempts: UInt64 = 5

    /// The defaults: 5 s, ×2, at most 30 s, 10 % jitter, 5 attempts.
    public init() {}

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
}
