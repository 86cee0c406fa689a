import Foundation
import Synchronization

/// Whether the cluster's own queries to the store (forwarded requests every 20 ms, heartbeats) get answers: a node
/// with no traffic of its own still learns that PostgreSQL is down or frozen, and `/ready` says so (EA-DUR-8).
public final class StoreProbe: Sendable {
    /// A query unanswered this long counts as a stalled store.
    static let stallMs: UInt64 = 2_000
    private let state = Mutex<(failingSince: UInt64?, queryStartedAt: UInt64?)>((nil, nil))

    /// A probe that has seen nothing yet (reachable).
    public init() {}

    private static func nowMs() -> UInt64 { UInt64(Date().timeIntervalSince1970 * 1000) }

    /// A query starts.
    func started() { state.withLock { $0.queryStartedAt = Self.nowMs() } }

    /// The query was answered.
    func answered() { state.withLock { $0 = (nil, nil) } }

    /// The query failed.
    func failed() {
        state.withLock { state in
            if state.failingSince == nil { state.failingSince = Self.nowMs() }
            state.queryStartedAt = nil
        }
    }

    /// Whether the store answers: no failure since the last answer, no query waiting for `stallMs`.
    public var isReachable: Bool {
        state.withLock { state in
            if state.failingSince != nil { return false }
            guard let started = state.queryStartedAt else { return true }
            return Self.nowMs() - min(Self.nowMs(), started) < Self.stallMs
        }
    }
}
