/// The time source of the client's shell: milliseconds of a monotonic clock and sleeping until one. Injected so
/// that tests drive time by hand.
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
