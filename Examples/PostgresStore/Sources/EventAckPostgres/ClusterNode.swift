import EventAckProtocol
import EventAckPublish
import EventAckReconciler
import Logging
import ServiceLifecycle

/// This node's part in a cluster over PostgreSQL: it heartbeats, recovers the sessions it owned when it starts
/// again, adopts the sessions of nodes that stay away (so that they are resumed or expire, never forgotten), and
/// performs what agents on other nodes forwarded to the sessions it owns.
public struct ClusterNode: Service {
    let service: ReconcilerService
    let store: PostgresSessionStore
    let logger: Logger
    /// Told how the store's queries go, for `/ready`.
    let probe: StoreProbe
    /// How long a node may be silent before another adopts its sessions.
    var staleAfterSeconds = 10
    /// Ends the agent runs whose stream's reader died (EA-PUB-14), if this node runs the publish API.
    let endOrphanedAgentRuns: (@Sendable ([String]) async -> Void)?

    /// The part of `service` in a cluster over `store`; `probe` learns how the store's queries go (for `/ready`).
    public init(
        service: ReconcilerService, store: PostgresSessionStore, logger: Logger, probe: StoreProbe,
        staleAfterSeconds: Int = 10, endOrphanedAgentRuns: (@Sendable ([String]) async -> Void)? = nil
    ) {
        self.endOrphanedAgentRuns = endOrphanedAgentRuns
        self.service = service
        self.store = store
        self.logger = logger
        self.probe = probe
        self.staleAfterSeconds = staleAfterSeconds
    }

    public func run() async throws {
        try await store.heartbeat()
        let owned = try await store.ownedSessions()
        await service.recover(owned)
        logger.info("node started", metadata: ["node": "\(store.node)", "recovered": "\(owned.count)"])
        // Since when this node's own store queries succeed: a node adopts others' sessions only once it has been
        // healthy for as long as it takes to call a node silent. After a database outage every node's heartbeat is
        // stale, and the first to reconnect took the sessions of nodes that were alive and serving them.
        var healthySince = ContinuousClock.now
        var chores = Chores(now: .now)
        var blocked = false
        await withGracefulShutdownHandler {
            while !Task.isCancelled && !Task.isShuttingDownGracefully {
                do {
                    // Each query bounded: a database that never answers must not stop the loop (nor /ready).
                    let limit = Duration.seconds(5)
                    probe.started()
                    blocked = try await withDeadline(limit) { try await performForwarded() }
                    let now = ContinuousClock.now
                    if chores.due(\.heartbeat, every: .seconds(2), now: now) {
                        try await withDeadline(limit) { try await store.heartbeat() }
                    }
                    if chores.due(\.movedAway, every: .seconds(1), now: now) {
                        let moved = try await withDeadline(limit) { try await store.sessionsMovedAway() }
                        if !moved.isEmpty {
                            logger.notice("sessions moved to another node", metadata: ["count": "\(moved.count)"])
                            service.release(moved)
                        }
                    }
                    if now - healthySince >= .seconds(staleAfterSeconds),
                        chores.due(\.adoption, every: .seconds(5), now: now)
                    {
                        let stale = staleAfterSeconds
                        let adopted = try await withDeadline(limit) {
                            try await store.adoptAbandoned(staleAfterSeconds: stale)
                        }
                        if !adopted.isEmpty {
                            logger.notice("adopted sessions of a silent node", metadata: ["count": "\(adopted.count)"])
                            await service.recover(adopted)
                        }
                        if let endOrphanedAgentRuns {
                            let orphaned = try await withDeadline(limit) {
                                try await store.orphanedAgentRuns(staleAfterSeconds: stale)
                            }
                            if !orphaned.isEmpty {
                                logger.notice(
                                    "ending agent runs whose stream died", metadata: ["count": "\(orphaned.count)"])
                                await endOrphanedAgentRuns(orphaned)
                            }
                        }
                    }
                    if chores.due(\.retirement, every: .seconds(60), now: now) {
                        try await withDeadline(limit) {
                            try await store.retirePublished(
                                now: SystemEventAckClock().nowMs(), retentionMs: PublishBook.defaultRetentionMs)
                        }
                    }
                    probe.answered()
                } catch {
                    probe.failed()
                    healthySince = ContinuousClock.now
                    logger.warning("store unavailable", metadata: ["error": "\(DisplayText.escaping("\(error)"))"])
                }
                // Woken when another node forwards something here (NOTIFY); a session whose window was full is
                // tried again soon, and the chores above are done at least every quarter second.
                await store.notifications.forwarded.wait(timeout: .milliseconds(blocked ? 20 : 250))
            }
        } onGracefulShutdown: {
            store.notifications.forwarded.signal()
        }
    }

    /// When each periodic chore was last done.
    struct Chores {
        var heartbeat: ContinuousClock.Instant
        var movedAway: ContinuousClock.Instant
        var adoption: ContinuousClock.Instant
        var retirement: ContinuousClock.Instant

        init(now: ContinuousClock.Instant) {
            // The heartbeat is due at once; the rest after their first period.
            heartbeat = now - .seconds(3600)
            (movedAway, adoption, retirement) = (now, now, now)
        }

        /// Whether a chore last done at `last` is due again, marking it done if so.
        mutating func due(
            _ chore: WritableKeyPath<Chores, ContinuousClock.Instant>, every period: Duration,
            now: ContinuousClock.Instant
        ) -> Bool {
            guard now - self[keyPath: chore] >= period else { return false }
            self[keyPath: chore] = now
            return true
        }
    }

    /// Performs forwarded requests in order, per session; a session whose window is full waits for the next pass.
    ///
    /// - Returns: whether a session was full (then the next pass comes soon).
    private func performForwarded() async throws -> Bool {
        let requests = try await store.takeForwarded()
        guard !requests.isEmpty else { return false }
        var blocked: Set<SessionID> = []
        var retired: [Int64] = []
        for request in requests where !blocked.contains(request.session) {
            switch request.request {
            case .event(let run, let kind, let payload, let confirm, let endsRun):
                do {
                    try service.emit(
                        run: run, kind: kind, payload: try Payload(json: payload), confirm: confirm, endsRun: endsRun,
                        to: request.session, origin: String(request.id))
                    store.performing(request.id)
                } catch  where (error as? ReconcilerError)?.code == "run_ended" {
                    // A run id names one run (EA-RUN-1): the event is refused for good, not retried for ever.
                    logger.warning(
                        "forwarded event refused: its run had ended",
                        metadata: ["session": "\(request.session)", "run": "\(DisplayText.escaping(run))"])
                    retired.append(request.id)
                } catch {
                    // Full window, store backlog, or not held here yet: later, in order.
                    blocked.insert(request.session)
                }
            case .progress(let run, let note):
                try? service.progress(run: run, note: note, in: request.session)
                retired.append(request.id)
            }
        }
        try await store.retire(retired)
        return !blocked.isEmpty
    }
}
