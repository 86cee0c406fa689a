@_spi(Shell) import EventAckProtocol

/// Write-ahead (§ 15): with a ``ReconcilerService/store``, an input's actions wait until the records they depend on
/// are appended; the appends of many inputs are grouped (group commit), sessions are loaded back from the store, and
/// hosts can wait for what is being written to settle.
extension ReconcilerService {
    /// Returns once every change made before the call is settled in the ``store``: appended, or refused by its
    /// fence (a refused local emit is forwarded to the session's owner in the same step). A host waits for it before
    /// sending through another path something that must come after — an agent's next event of a run, forwarded
    /// because the session just moved, must not overtake the run's last local one. At once without a store, when
    /// nothing is being written, or after ``shutdown()``.
    public func writesSettled() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let ready = state.withLock { state -> Bool in
                guard store != nil, !state.isShutDown, state.isFlushing else { return true }
                // The batch being appended, and the one that takes what waits now.
                let batch = state.batchesSettled + (state.waiting.isEmpty ? 1 : 2)
                state.settledWaiters.append((batch, continuation))
                return false
            }
            if ready { continuation.resume() }
        }
    }

    /// Performs an input's actions, or queues them behind an append under way (write-ahead).
    func perform(_ actions: [ReconcilerAction], _ state: inout State) {
        guard store != nil, state.isFlushing || actions.first?.isPersist == true else {
            performNow(actions, &state)
            return
        }
        guard !state.isShutDown else { return }
        state.waiting.append(actions)
        if !state.isFlushing {
            state.isFlushing = true
            Task { await self.flush() }
        }
        rearmTimer(&state)
    }

    /// Appends the records of every waiting input in one batch (group commit), then performs their actions in
    /// order; inputs that arrived meanwhile form the next batch.
    func flush() async {
        guard let store else { return }
        while true {
            let batch: [[ReconcilerAction]] = state.withLock { state in
                defer { state.waiting = [] }
                if state.waiting.isEmpty || state.isShutDown {
                    state.isFlushing = false
                    Self.settleWaiters(upTo: .max, &state)  // nothing more is being written
                }
                return state.isShutDown ? [] : state.waiting
            }
            if batch.isEmpty { return }
            var records: [SessionRecord] = []
            records.reserveCapacity(batch.count)
            for actions in batch {
                // Only an input's first action can be its records (``SessionContext/takeActions()``): matching the
                // others would copy every message.
                if case .persist(let persisted) = actions.first { records.append(contentsOf: persisted) }
            }
            var fenced: Set<SessionID> = []
            var retryMs: UInt64 = 10
            // One id for every attempt: an attempt that threw may have committed all the same (the connection broke
            // after COMMIT), and the store answers a retry of it by reading back, not by writing again (EA-DUR-7).
            let commit = CommitID.random()
            if !records.isEmpty { state.withLock { $0.appendStartedAt = clock.nowMs() } }
            while !records.isEmpty {
                do {
                    fenced = try await store.append(records, commit: commit)
                    storeRecovered()
                    break
                } catch {
                    // Nothing that depends on these records may go out: wait and retry, and say so.
                    storeFailed()
                    eventsContinuation.yield(.storeFailed(message: String(describing: error)))
                    if state.withLock({ $0.isShutDown }) { return }
                    try? await Task.sleep(for: .milliseconds(retryMs))
                    retryMs = min(retryMs * 2, 1000)
                }
            }
            state.withLock { state in
                if !fenced.isEmpty { performNow(state.machine.sessionsLost(fenced, now: clock.nowMs()), &state) }
                for actions in batch { performNow(actions, &state) }
                state.batchesSettled += 1
                Self.settleWaiters(upTo: state.batchesSettled, &state)
            }
        }
    }

    /// The store says `sessions` moved to another node — found by a check of ownership rather than by a refused
    /// write, for a session with nothing to write (its client waiting for events that now go to the new owner): stop
    /// serving them at once, as after a refused write (EA-DUR-4). Their connections close, so that their clients
    /// resume on the owner; no failure is reported for their events (the owner reports them).
    public func release(_ sessions: Set<SessionID>) {
        guard !sessions.isEmpty else { return }
        state.withLock { state in
            guard !state.isShutDown else { return }
            perform(state.machine.sessionsLost(sessions, now: clock.nowMs()), &state)
        }
    }

    /// Loads `sessions` from the ``store`` and holds them, detached, until their clients resume or they expire: what
    /// a node does when it starts again (the sessions it owned) or adopts the sessions of a node that stays away.
    public func recover(_ sessions: [SessionID]) async {
        for session in sessions where !holds(session) { await load(session) }
    }

    /// Loads a session for a resume; a store that cannot be reached for 5 s counts as not knowing it.
    func load(_ session: SessionID) async {
        guard let store else { return }
        var records: [SessionRecord]?
        var retryMs: UInt64 = 10
        let deadline = clock.nowMs() + 5000
        while true {
            do {
                records = try await store.load(session)
                break
            } catch {
                eventsContinuation.yield(.storeFailed(message: String(describing: error)))
                if clock.nowMs() >= deadline { break }
                try? await Task.sleep(for: .milliseconds(retryMs))
                retryMs = min(retryMs * 2, 1000)
            }
        }
        state.withLock { state in
            guard !state.isShutDown else { return }
            perform(state.machine.sessionLoaded(session, records: records, now: clock.nowMs()), &state)
        }
    }

    /// Whether the ``store`` can make records durable now, and what waits for it.
    public var storeHealth: StoreHealth {
        state.withLock { state in
            let now = clock.nowMs()
            var since = state.storeFailingSince
            if since == nil, let started = state.appendStartedAt, now - min(now, started) >= Self.storeStallMs {
                since = started
            }
            return StoreHealth(
                isAvailable: store == nil || since == nil, unavailableSinceMs: since, failures: state.storeFailures,
                pendingWrites: state.waiting.count)
        }
    }

    /// An append threw: the store is failing since now, unless it already was.
    func storeFailed() {
        state.withLock { state in
            state.storeFailures += 1
            if state.storeFailingSince == nil { state.storeFailingSince = clock.nowMs() }
        }
    }

    /// An append completed: the store is available.
    func storeRecovered() {
        state.withLock { state in
            state.storeFailingSince = nil
            state.appendStartedAt = nil
        }
    }

    /// Wakes the ``writesSettled()`` callers waiting for batch `batch` or an earlier one.
    static func settleWaiters(upTo batch: UInt64, _ state: inout State) {
        for waiter in state.settledWaiters where waiter.batch <= batch { waiter.continuation.resume() }
        state.settledWaiters.removeAll { $0.batch <= batch }
    }
}

/// Whether a ``ReconcilerService``'s store can make records durable now (``ReconcilerService/storeHealth``): what a
/// host's readiness check reports (EA-DUR-8).
public struct StoreHealth: Sendable, Hashable {
    /// False while the last append failed, or the append under way has taken ``ReconcilerService/storeStallMs`` or
    /// more (a frozen database does not fail, it stalls). Always true without a store.
    public var isAvailable: Bool
    /// Since when the store has been unavailable (the clock's milliseconds).
    public var unavailableSinceMs: UInt64?
    /// Appends that threw since the service started (each retry counts).
    public var failures: UInt64
    /// Inputs whose actions wait behind the append under way (not counting that append's own): what
    /// ``ReconcilerService/maxPendingWrites`` bounds.
    public var pendingWrites: Int

    /// Creates a health reading.
    public init(isAvailable: Bool, unavailableSinceMs: UInt64?, failures: UInt64, pendingWrites: Int) {
        self.isAvailable = isAvailable
        self.unavailableSinceMs = unavailableSinceMs
        self.failures = failures
        self.pendingWrites = pendingWrites
    }
}
