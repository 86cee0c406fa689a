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

/// Wall-clock time: milliseconds since the Unix epoch, what `event.ts` carries. The reconciler's service uses it so
/// that deadlines and timestamps share one time line.
public struct UnixEventAckClock: EventAckClock {
    /// Creates the clock.
    public init() {}

    public func nowMs() -> UInt64 {
        UInt64(max(0, Date().timeIntervalSince1970 * 1000))
    }

    public func sleep(untilMs deadline: UInt64) async throws {
        // Wall time can jump; sleep in monotonic steps and look again.
        while true {
            let now = nowMs()
            if now >= deadline { return }
            try await Task.sleep(for: .milliseconds(deadline - now))
        }
    }
}
