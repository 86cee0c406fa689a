import Foundation

/// The time source of the shells (the client actor, the reconciler's service): milliseconds and sleeping until
/// one. Injected so that tests drive time by hand.
public protocol EventAckClock: Sendable {
    /// Milliseconds since an arbitrary, fixed origin; never decreases.
    func nowMs() -> UInt64
    /// Returns once ``nowMs()`` ≥ `deadline`; throws `CancellationError` when the task is cancelled.
    func sleep(untilMs deadline: UInt64) async throws
}

/// The real clock: `ContinuousClock`, counted from when the value was created.
public struct SystemEventAckClock: EventAckClock {
    private let origin = ContinuousClock.now

    /// Creates a clock starting at 0 now.
    public init() {}

    public func nowMs() -> UInt64 {
        let elapsed = origin.duration(to: .now).components
        return UInt64(max(0, elapsed.seconds)) * 1000 + UInt64(max(0, elapsed.attoseconds)) / 1_000_000_000_000_000
    }

    public func sleep(untilMs deadline: UInt64) async throws {
        try await ContinuousClock().sleep(until: origin.advanced(by: .milliseconds(deadline)))
    }
}

/// Unix milliseconds that never jump: the wall clock read once, when the value is created, advanced by the monotonic
/// `ContinuousClock` from then on. What the reconciler's service uses, so that one time line serves both its deadlines
/// and `event.ts`.
///
/// Deadlines and intervals need a clock that never steps: read from the wall clock each time, a step (NTP, an
/// operator, a VM resumed) re-timed every deadline at once — an hour back, and nothing retransmitted or expired for
/// an hour; an hour forward, and every session expired (issue 24). Here a step of the system's wall clock changes
/// nothing until the process restarts; the price is that after such a step `ts` and report times differ from the
/// system's wall clock by the step. Times that cross nodes or processes (a token's grace end, a session's age, `ts`)
/// are Unix milliseconds from the clocks of the nodes that wrote them, as before.
public struct UnixEventAckClock: EventAckClock {
    private let originWallMs: UInt64
    /// Milliseconds since this clock was made: the monotonic part.
    private let elapsed = SystemEventAckClock()

    /// Anchored at the system's wall clock now.
    public init() {
        self.init(wall: { UInt64(max(0, Date().timeIntervalSince1970 * 1000)) })
    }

    /// Anchored at what `wall` says now, in Unix milliseconds; `wall` is read once, here.
    public init(wall: () -> UInt64) {
        originWallMs = wall()
    }

    public func nowMs() -> UInt64 {
        originWallMs + elapsed.nowMs()
    }

    public func sleep(untilMs deadline: UInt64) async throws {
        try await elapsed.sleep(untilMs: deadline - min(deadline, originWallMs))
    }
}
