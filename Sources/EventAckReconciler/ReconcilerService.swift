@_spi(Shell) import EventAckProtocol

/// The reconciler's shell: owns a ``Reconciler``, serves connections, runs its timers on an injected clock, and
/// exposes emitting, the report and the live stream of ``ReconciliationEvent``s.
///
/// ```swift
/// let service = ReconcilerService()
/// // In the WebSocket handler, once the upgrade is authenticated:
/// await service.serve(connection, principal: user.id)
/// // Elsewhere, for that user's session:
/// let seq = try service.emit(run: "run_7", kind: "agent_started", to: session)
/// ```
///
/// Every method is safe to call from any task. The machine runs under a lock (a pthread mutex); frames are encoded and written by
/// one writer task per connection, in the order the machine produced them.
public final class ReconcilerService: Sendable {
    /// Live reconciliation events. Buffers the newest ``eventBufferLimit`` if nobody reads fast enough (the report
    /// keeps every figure regardless); finishes at ``shutdown()``.
    public let events: AsyncStream<ReconciliationEvent>
    /// Events buffered for a slow reader of ``events`` before the oldest are dropped.
    public static let eventBufferLimit = 100_000

    /// Frames queued for one connection before the peer is deemed not to read and is closed.
    public let maxQueuedFrames: Int

    struct State: Sendable {
        var machine: Reconciler
        var writers: [ConnectionID: Writer] = [:]
        var timer: (deadline: UInt64, task: Task<Void, Never>)?
        var isShutDown = false
        /// Connections being served (opened and not yet ended: ``ServedConnection/end()``).
        var serving = 0
        /// Frames queued for each connection at its last send.
        var closedNotReading = 0
        /// Connections closed because their peer does not read: their writer is cancelled, not drained.
        var abandoned: Set<ConnectionID> = []
        /// Inputs' actions waiting, in order, for their records to be durable (write-ahead; with a store only).
        var waiting: [[ReconcilerAction]] = []
        /// Whether a task is appending ``waiting``'s records to the store.
        var isFlushing = false
        /// Batches appended so far, and who waits for a number of them (``writesSettled()``).
        var batchesSettled: UInt64 = 0
        var settledWaiters: [(batch: UInt64, continuation: CheckedContinuation<Void, Never>)] = []
        /// Appends that threw, since the start; when the current failure streak began; when the append under way
        /// started (a frozen database never throws: it stalls).
        var storeFailures: UInt64 = 0
        var storeFailingSince: UInt64?
        var appendStartedAt: UInt64?
        /// Called with every reconciliation event, under the lock (``addObserver(_:)``).
        var observers: [@Sendable (ReconciliationEvent) -> Void] = []
    }

    /// A connection's outbound queue, and the executor its writer task prefers.
    struct Writer: Sendable {
        var queue: BatchQueue<Message>
        var executor: (any TaskExecutor)?
    }

    let state: LockedState<State>
    let clock: any EventAckClock
    let eventsContinuation: AsyncStream<ReconciliationEvent>.Continuation
    let codec: MessageCodec
    /// Where sessions are written ahead, if anywhere.
    public let store: (any SessionStore)?
    /// Inputs (emits, acks, handshakes) that may wait for the store before emits are refused with
    /// `store_unavailable` (EA-DUR-8).
    public let maxPendingWrites: Int
    /// An append under way for this long counts as a stalled store (``StoreHealth/isAvailable`` false).
    public static let storeStallMs: UInt64 = 2_000

    /// Creates a service.
    ///
    /// - Parameters:
    ///   - configuration: what to enforce; brought into range by ``ReconcilerConfiguration/normalized()``.
    ///   - clock: time for deadlines and `event.ts`; Unix milliseconds by default.
    ///   - random: session ids, resume tokens and jitter; the system's secure generator by default.
    ///   - maxQueuedFrames: frames queued for one connection before its peer is deemed not to read: the connection
    ///     is closed (its session waits for a resume) instead of the server's memory growing with what it will
    ///     never read.
    ///   - store: where sessions are written ahead so that they survive this process and can be resumed on another
    ///     node (§ 15). Records of many inputs are appended together (group commit): while an append is under way,
    ///     later inputs' actions wait behind it, in order, so that nothing reaches a peer before what backs it is
    ///     durable. Without a store (the default), sessions live in this process only, and nothing waits.
    ///   - maxPendingWrites: with a store, the inputs whose records may wait for it (while it is slow or down)
    ///     before ``emit(run:kind:payload:confirm:endsRun:to:origin:)`` refuses with `store_unavailable` instead of
    ///     holding more in memory (EA-DUR-8).
    public init(
        configuration: ReconcilerConfiguration = ReconcilerConfiguration(),
        clock: any EventAckClock = UnixEventAckClock(),
        random: some RandomNumberGenerator & Sendable = SystemRandomNumberGenerator(),
        maxQueuedFrames: Int = 4096,
        store: (any SessionStore)? = nil,
        maxPendingWrites: Int = 65_536
    ) {
        self.store = store
        self.maxPendingWrites = max(1, maxPendingWrites)
        self.maxQueuedFrames = max(16, maxQueuedFrames)
        self.clock = clock
        self.codec = MessageCodec(maxFrameBytes: configuration.maxFrameBytes)
        self.state = LockedState(
            State(machine: Reconciler(configuration: configuration, random: random, writesAhead: store != nil)))
        (events, eventsContinuation) = AsyncStream.makeStream(bufferingPolicy: .bufferingNewest(Self.eventBufferLimit))
    }

    /// Emits an event to `session`; see ``Reconciler/emit(run:kind:payload:confirm:endsRun:to:origin:now:)``.
    /// With a ``store``, the event is sent once its record is durable; the seq is returned at once. While the store
    /// is down or stalled, records wait in memory, in order, and go out by themselves when it is back; past
    /// ``maxPendingWrites`` waiting inputs the emit is refused with `store_unavailable` (EA-DUR-8): try again later.
    ///
    /// - Returns: the event's seq.
    @discardableResult
    public func emit(
        run: String,
        kind: String,
        payload: Payload = .empty,
        confirm: ConfirmationLevel = .receipt,
        endsRun: Bool? = nil,
        to session: SessionID,
        origin: String? = nil
    ) throws(ReconcilerError) -> Seq {
        try state.withLock { (state) throws(ReconcilerError) -> Seq in
            try checkStoreHasRoom(&state, run: run, in: [session])
            let emission = try state.machine.emit(
                run: run, kind: kind, payload: payload, confirm: confirm, endsRun: endsRun, to: session,
                origin: origin, now: clock.nowMs())
            perform(emission.actions, &state)
            return emission.seq
        }
    }

    /// EA-DUR-8: with a store, past ``maxPendingWrites`` inputs waiting for it an emit is refused. The producer
    /// trying is alive all the same: its run's idle timeout starts again (EA-RUN-2), so that a store outage longer
    /// than the timeout does not end runs whose agents are only waiting for it.
    func checkStoreHasRoom(
        _ state: inout State, run: String, in sessions: [SessionID]
    ) throws(ReconcilerError) {
        guard store != nil, state.waiting.count >= maxPendingWrites else { return }
        let now = clock.nowMs()
        for session in sessions { state.machine.producerAlive(run: run, in: session, now: now) }
        throw .storeUnavailable(pending: state.waiting.count)
    }

    /// Calls `observer` with every reconciliation event from now on, as ``events`` gets them but losslessly and in
    /// order, under the service's lock: keep it quick and never call the service from it (hand the event to a queue).
    public func addObserver(_ observer: @escaping @Sendable (ReconciliationEvent) -> Void) {
        state.withLock { $0.observers.append(observer) }
    }

    /// Tells `session` that `run` is alive (EA-LIVE-2); restarts its idle timeout (EA-RUN-2). Throws `run_ended` for
    /// a run that has ended there.
    public func progress(run: String, note: String? = nil, in session: SessionID) throws(ReconcilerError) {
        try state.withLock { (state) throws(ReconcilerError) in
            perform(try state.machine.progress(run: run, note: note, in: session, now: clock.nowMs()), &state)
        }
    }

    /// Marks when `run` was requested — now, or at `requestedAt` on the service's clock if earlier — for the
    /// profile's `.request` SLOs. With `reportingConfirmations`, each of the run's events confirmed at its level is
    /// reported to the observers and ``events`` even when the configuration does not report each confirmation.
    /// `idleTimeoutMs` gives the run its own idle timeout (EA-RUN-2); `profile` names the profile it is validated
    /// against (one of the configuration's `runProfiles`).
    public func runRequested(
        _ run: String, in session: SessionID, at requestedAt: UInt64? = nil, reportingConfirmations: Bool = false,
        idleTimeoutMs: UInt64? = nil, profile: String? = nil
    ) throws(ReconcilerError) {
        try state.withLock { (state) throws(ReconcilerError) in
            perform(
                try state.machine.runRequested(
                    run, in: session, at: requestedAt, reportingConfirmations: reportingConfirmations,
                    idleTimeoutMs: idleTimeoutMs, profile: profile, now: clock.nowMs()),
                &state)
        }
    }

    /// The executor of the connection `session` is attached to (its ``ServerConnection/writerExecutor``), if it
    /// has one. Code that emits many events to one session — an agent's run — can run there
    /// (`withTaskExecutorPreference`): each emit then reaches the connection's writer on the thread that writes
    /// it, instead of waking that thread. `nil` when the session is detached or unknown here, or its connection
    /// has no executor. A session that moves to another connection later keeps working from anywhere, at the cost
    /// of that wake-up. The writer runs when the emitting task next suspends: a task that emits and then works on,
    /// or arms a sleep (tens of µs), delays the event by that much — `await Task.yield()` after emitting lets it go
    /// first.
    public func writerExecutor(of session: SessionID) -> (any TaskExecutor)? {
        state.withLock { state in state.machine.connection(of: session).flatMap { state.writers[$0]?.executor } }
    }

    /// Whether `session` is held by this service (attached or waiting for a resume here). With a store, a session
    /// not held here may live on another node: emit to it through the store.
    public func holds(_ session: SessionID) -> Bool {
        state.withLock { $0.machine.holds(session) }
    }

    /// The sessions of `principal`, attached or waiting for a resume.
    public func sessions(of principal: String) -> [SessionID] {
        state.withLock { $0.machine.sessions(of: principal) }
    }

    /// The confirmation report now; see ``Reconciler/report(now:principal:limit:)``.
    ///
    /// A user's report (`principal`) is built under the lock: it covers only that user's sessions, and building it
    /// there costs the data path less than the alternative. The whole report is built outside the lock from a copy
    /// of the machine taken under it — O(1) to take, but the first change to each session afterwards copies that
    /// session's storage on the data path (copy-on-write), which a scrape every 100 ms showed in the paced
    /// benchmark's p99. Poll the whole report rarely (the AgentServer caches it for a second); for counters, read
    /// ``overallStats()``.
    public func report(principal: String? = nil, limit: Int? = nil) -> ConfirmationReport {
        if principal != nil {
            return state.withLock { $0.machine.report(now: clock.nowMs(), principal: principal, limit: limit) }
        }
        let (machine, now) = state.withLock { ($0.machine, clock.nowMs()) }
        return machine.report(now: now, principal: nil, limit: limit)
    }

    /// The figures over every session (the whole report's ``ConfirmationReport/overall``), without a report: what
    /// metrics read.
    public func overallStats() -> ConfirmationStats {
        state.withLock { $0.machine.overallStats }
    }

    /// The configuration the service's reconciler runs with (normalised).
    public var configuration: ReconcilerConfiguration { state.withLock { $0.machine.configuration } }

    /// The report of `run` in each of `sessions` that knows it; see ``Reconciler/runReport(_:in:)``.
    public func runReports(_ run: String, in sessions: [SessionID]) -> [RunReport] {
        state.withLock { state in sessions.compactMap { state.machine.runReport(run, in: $0) } }
    }

    /// What the service holds now, for metrics and soak tests.
    public struct Sizes: Sendable, Hashable {
        /// Sessions with a live connection.
        public var attached: Int
        /// Sessions waiting for a resume.
        public var detached: Int
        /// Events retained for confirmation, over all sessions.
        public var retainedEvents: Int
        /// The most frames waiting in one connection's outbound queue now.
        public var deepestOutboundQueue: Int
        /// Connections closed because their peer stopped reading, since the start.
        public var closedNotReading: Int
    }

    /// What the service holds now (a pass over the sessions, under the lock: for metrics, not for the data path).
    public func sessionCounts() -> Sizes {
        state.withLock { state in
            let attached = state.machine.attachedSessionCount
            return Sizes(
                attached: attached, detached: state.machine.sessionCount - attached,
                retainedEvents: state.machine.retainedEventCount,
                deepestOutboundQueue: state.writers.values.map(\.queue.count).max() ?? 0,
                closedNotReading: state.closedNotReading)
        }
    }

    /// ``shutdown()``, then waits — at most `drainMs` — until every connection has written its last frames (`bye`)
    /// and closed, so that the host can stop its transport without cutting a `bye` short.
    @discardableResult
    public func shutdown(drainMs: UInt64) async -> ConfirmationReport {
        let deadline = clock.nowMs() + drainMs
        // What waits for the store goes out first (a welcome, events), then the byes.
        while state.withLock({ $0.isFlushing }), clock.nowMs() < deadline {
            try? await Task.sleep(for: .milliseconds(5))
        }
        let report = shutdown()
        while state.withLock({ $0.serving }) > 0, clock.nowMs() < deadline {
            try? await Task.sleep(for: .milliseconds(10))
        }
        return report
    }

    /// Says `bye` to every client, closes every connection, stops the timers and finishes ``events``. Returns the
    /// final report, whose pending figures are what was still unconfirmed.
    @discardableResult
    public func shutdown() -> ConfirmationReport {
        let report = state.withLock { state in
            state.waiting = []
            performNow(state.machine.shutdown(now: clock.nowMs()), &state)
            state.isShutDown = true
            state.timer?.task.cancel()
            state.timer = nil
            for writer in state.writers.values { writer.queue.finish() }
            state.writers = [:]
            Self.settleWaiters(upTo: .max, &state)
            return state.machine.report(now: clock.nowMs())
        }
        eventsContinuation.finish()
        return report
    }

    // MARK: The shell

    /// Performs actions at once: frames to the connections' writers, closes, reports. A connection whose writer is
    /// full is taken for a peer that does not read and closed.
    func performNow(_ actions: [ReconcilerAction], _ state: inout State) {
        var notReading: [ConnectionID] = []
        for action in actions {
            switch action {
            case .persist:
                break  // appended by `flush()` before these actions were released
            case .load(let session):
                Task { await self.load(session) }
            case .send(let message, let connection):
                if state.writers[connection]?.queue.push(message) == .dropped { notReading.append(connection) }
            case .close(let connection, _):
                state.writers.removeValue(forKey: connection)?.queue.finish()
            case .report(let event):
                for observer in state.observers { observer(event) }
                eventsContinuation.yield(event)
            }
        }
        for connection in notReading where state.writers[connection] != nil {
            // The peer stopped reading: its queue is full. Close it rather than hold what it will never read; its
            // session detaches and waits for a resume, which replays what is unacknowledged.
            state.writers.removeValue(forKey: connection)?.queue.finish()
            state.closedNotReading += 1
            state.abandoned.insert(connection)
            let reason = "peer not reading: \(maxQueuedFrames) frames queued"
            perform(state.machine.connectionClosed(connection, now: clock.nowMs(), reason: reason), &state)
        }
        rearmTimer(&state)
    }

    /// Arms the one timer for the reconciler's next deadline — only when it is earlier than the one armed. A later
    /// or vanished deadline leaves the armed sleep alone; when it wakes, ``timerFired(deadline:)`` asks again.
    /// Re-arming on every change cost a task and a libdispatch timer per event.
    func rearmTimer(_ state: inout State) {
        guard !state.isShutDown, let deadline = state.machine.nextDeadline else { return }
        if let armed = state.timer?.deadline, armed <= deadline { return }
        state.timer?.task.cancel()
        let clock = self.clock
        state.timer = (
            deadline,
            Task { [weak self] in
                do { try await clock.sleep(untilMs: deadline) } catch { return }
                self?.timerFired(deadline: deadline)
            }
        )
    }

    private func timerFired(deadline: UInt64) {
        state.withLock { state in
            guard state.timer?.deadline == deadline else { return }
            state.timer = nil
            let now = clock.nowMs()
            if let due = state.machine.nextDeadline, due <= now {
                perform(state.machine.timerFired(now: now), &state)
            } else {
                rearmTimer(&state)
            }
        }
    }
}
