import EventAckProtocol

/// What a timer is for.
enum TimerTarget: Hashable, Sendable {
    /// An event's deadline (receipt, display or value).
    case event(session: UInt64, seq: Seq)
    /// A session's `synced` flush or expiry.
    case session(UInt64)
    /// A connection's heartbeat or liveness check.
    case connection(ConnectionID)
}

/// The reconciler's timers: one binary min-heap for every deadline of every session, so that a tick costs what is
/// due (O(log n) each), never a scan of all outstanding events.
///
/// Entries are invalidated lazily: the owner of a target keeps its current deadline, and an entry whose deadline
/// no longer matches is skipped when it surfaces. Stale entries are counted and purged in one O(n) pass once they
/// outnumber the live ones, which keeps memory within twice the live timers at amortized O(1) per entry.
struct TimerHeap: Sendable {
    struct Entry: Sendable {
        var deadline: UInt64
        var target: TimerTarget
    }

    private(set) var entries: [Entry] = []
    /// Entries known to be stale (their target moved or cleared its deadline).
    private(set) var staleCount = 0

    var isEmpty: Bool { entries.isEmpty }
    var earliest: UInt64? { entries.first?.deadline }

    mutating func schedule(_ target: TimerTarget, at deadline: UInt64) {
        entries.append(Entry(deadline: deadline, target: target))
        siftUp(entries.count - 1)
    }

    /// Notes that one scheduled entry no longer counts (its target moved or cleared its deadline).
    mutating func noteStale() { staleCount += 1 }

    /// Notes that a stale entry left the heap.
    mutating func forgetStale() { staleCount = max(0, staleCount - 1) }

    /// Whether stale entries outnumber live ones enough to be worth one O(n) purge.
    var needsPurge: Bool { staleCount > 1024 && staleCount * 2 > entries.count }

    /// Removes and returns the earliest entry if it is due at `now`.
    mutating func popDue(now: UInt64) -> Entry? {
        guard let first = entries.first, first.deadline <= now else { return nil }
        let last = entries.removeLast()
        if !entries.isEmpty {
            entries[0] = last
            siftDown(0)
        }
        return first
    }

    /// Drops stale entries from the top, so that ``earliest`` is a real deadline.
    mutating func dropStaleTop(isLive: (Entry) -> Bool) {
        while let first = entries.first, !isLive(first) {
            _ = popDue(now: .max)
            forgetStale()
        }
    }

    mutating func purge(isLive: (Entry) -> Bool) {
        entries.removeAll { !isLive($0) }
        staleCount = 0
        guard entries.count > 1 else { return }
        for index in stride(from: entries.count / 2 - 1, through: 0, by: -1) { siftDown(index) }
    }

    private mutating func siftUp(_ start: Int) {
        var child = start
        let entry = entries[child]
        while child > 0 {
            let parent = (child - 1) / 2
            guard entry.deadline < entries[parent].deadline else { break }
            entries[child] = entries[parent]
            child = parent
        }
        entries[child] = entry
    }

    private mutating func siftDown(_ start: Int) {
        var parent = start
        let entry = entries[parent]
        let count = entries.count
        while true {
            var child = 2 * parent + 1
            guard child < count else { break }
            if child + 1 < count, entries[child + 1].deadline < entries[child].deadline { child += 1 }
            guard entries[child].deadline < entry.deadline else { break }
            entries[parent] = entries[child]
            parent = child
        }
        entries[parent] = entry
    }
}
