import EventAckProtocol
import Synchronization
import Testing

/// The service's clock never steps with the wall clock (issue 24, item 5): deadlines and intervals are monotonic.
@Suite("Clocks")
struct EventAckClockTests {
    /// A wall clock that an operator steps by an hour, back and forward, every time it is read.
    final class SteppingWall: Sendable {
        let reads = Mutex(0)
        let start: UInt64 = 1_796_000_000_000

        func read() -> UInt64 {
            reads.withLock { count in
                defer { count += 1 }
                return count % 2 == 0 ? start - 3_600_000 * UInt64(count) : start + 3_600_000 * UInt64(count)
            }
        }
    }

    @Test("Unix time from a wall clock stepped back and forward by an hour: never decreases, never jumps")
    func steppedWallClock() async throws {
        let wall = SteppingWall()
        let clock = UnixEventAckClock(wall: wall.read)
        let first = clock.nowMs()
        #expect(first >= wall.start && first < wall.start + 1_000, "anchored at the wall clock's first reading")
        var last = first
        for _ in 0..<5 {
            _ = wall.read()  // the operator steps the clock
            let now = clock.nowMs()
            #expect(now >= last && now < last + 1_000, "moved \(Int64(now) - Int64(last)) ms")
            last = now
        }
        #expect(wall.reads.withLock { $0 } == 6, "the clock read the wall clock once, when it was made")
    }

    @Test("a deadline 50 ms ahead fires neither before it nor an hour late, whatever the wall clock does")
    func deadline() async throws {
        let wall = SteppingWall()
        let clock = UnixEventAckClock(wall: wall.read)
        let monotonic = ContinuousClock.now
        let deadline = clock.nowMs() + 50
        for _ in 0..<3 { _ = wall.read() }
        try await clock.sleep(untilMs: deadline)
        #expect(clock.nowMs() >= deadline)
        #expect(monotonic.duration(to: .now) >= .milliseconds(50), "not early")
        #expect(monotonic.duration(to: .now) < .seconds(60), "not an hour late")
    }
}
