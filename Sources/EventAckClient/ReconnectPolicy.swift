/// How the client reconnects: exponential backoff with jitter, bounded or not. Pure: the random draw is passed in.
public struct ReconnectPolicy: Sendable, Hashable {
    /// The delay before the first retry, in milliseconds (before jitter).
    public var baseMs: UInt64
    /// The largest delay, in milliseconds.
    public var capMs: UInt64
    /// Give up after this many consecutive failed attempts; `nil` retries forever.
    public var maxAttempts: Int?

    /// Creates a policy. The defaults retry forever, from 250 ms up to 30 s.
    public init(baseMs: UInt64 = 250, capMs: UInt64 = 30_000, maxAttempts: Int? = nil) {
        self.baseMs = baseMs
        self.capMs = max(capMs, baseMs)
        self.maxAttempts = maxAttempts
    }

    /// The delay before retry number `attempt` (0 for the first retry): `min(cap, base·2^attempt)`, of which the
    /// upper half is jittered by `random` ("equal jitter"), so that many clients cut off together do not return
    /// together.
    public func delayMs(attempt: Int, random: UInt64) -> UInt64 {
        let exponent = UInt64(min(max(attempt, 0), 32))
        let (scaled, overflow) = baseMs.multipliedReportingOverflow(by: 1 << exponent)
        let ceiling = overflow ? capMs : min(capMs, scaled)
        let half = ceiling / 2
        return ceiling - half + (half == 0 ? 0 : random % (half + 1))
    }
}
