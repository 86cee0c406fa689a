import EventAckProtocol

/// One session as a state machine: its event ring, confirmation sets, run trackers and `synced` state, and the
/// rules that change them — emitting and sending (`+Events`), acks and nacks (`+Acknowledgements`), deadlines,
/// `synced` and expiry (`+Timers`), resume and recovery (`+Resume`).
///
/// The ``Reconciler`` routes each input to the one session it concerns and lends it the ``SessionContext`` for its
/// sends, reports, records and timers. Sessions share nothing: nothing here points into another one (EA-ISO-1).
/// The session is also the unit of persistence: its records (``SessionRecord``) rebuild it through the same rules
/// (``init(restoring:key:context:now:)``).
struct SessionMachine: Sendable {
    /// Where the session's connection is.
    enum Attachment: Sendable, Hashable {
        /// Live on this connection.
        case attached(ConnectionID)
        /// No connection since this time; expires `resumeWindowMs` later.
        case detached(since: UInt64)
    }

    let key: UInt64
    let id: SessionID
    let principal: String
    /// The current resume token (EA-ISO-2: never logged, compared in constant time).
    var token: String
    /// The token the client resumed with, still accepted until the client acks on the resumed connection or the
    /// grace ends: a `welcome` lost with its connection would otherwise leave the client holding a dead token and
    /// lose the session (EA-RES-3; found by the simulator). Using it again does not extend the grace.
    var previousToken: (token: String, validUntil: UInt64)?
    var attachment: Attachment
    /// The effective window (EA-FLOW-1).
    var window: UInt64
    /// The version negotiated on the current (or last) connection.
    var version: ProtocolVersion
    let openedAt: UInt64

    /// Retained events from the lowest unresolved seq to the last emitted.
    var events = EventRing()
    /// The next seq to assign.
    var nextSeq: Seq = 1
    /// The lowest seq never sent; everything below was sent at least once.
    var sendCursor: Seq = 1
    /// Sent and not receipt-acknowledged (nor failed): what the window limits.
    var inFlight: UInt64 = 0
    /// After a recovery, until the first resume: the events taken as never sent although the node that crashed may
    /// have sent them (EA-DUR-3). The client's resume receipt says which it has.
    var maybeSent: Range<Seq>?

    /// Per level, every seq the client confirmed at that level or above (EA-LVL-1).
    var confirmedReceipt = AckSet()
    var confirmedDisplay = AckSet()
    var confirmedValue = AckSet()
    /// Seqs confirmed at their level or failed: the server expects nothing more for them at any level.
    var resolved = AckSet()
    /// What changed since the last `synced`, per level (echoed even when the full set has too many ranges).
    var unechoed = Synced(receipt: AckSet(), display: AckSet(), value: AckSet())
    var syncedPending = false
    var lastSyncedAt: UInt64 = 0
    /// The session's pending timer (synced flush or expiry), 0 for none.
    var timerDeadline: UInt64 = 0

    /// Runs of this session: trackers by index (events point at them), and the index of each open run id.
    var runs: [RunTracker?] = []
    var runIndexByID: [String: UInt32] = [:]
    var freeRunIndices: [UInt32] = []
    /// Runs that ended here, whose ids an `emit` may not reuse (EA-RUN-1).
    var endedRuns = EndedRuns()

    var stats = ConfirmationStats()

    init(
        key: UInt64,
        id: SessionID,
        principal: String,
        token: String,
        connection: ConnectionID,
        window: UInt64,
        version: ProtocolVersion,
        now: UInt64
    ) {
        self.key = key
        self.id = id
        self.principal = principal
        self.token = token
        self.attachment = .attached(connection)
        self.window = window
        self.version = version
        self.openedAt = now
    }

    var connection: ConnectionID? {
        if case .attached(let connection) = attachment { return connection }
        return nil
    }

    /// The highest seq ever sent (0 before the first).
    var highestSent: Seq { sendCursor - 1 }

    /// Events emitted and not sent yet.
    var queuedCount: Int { Int(nextSeq - sendCursor) }

    func confirmed(at level: ConfirmationLevel) -> AckSet {
        switch level {
        case .receipt: confirmedReceipt
        case .display: confirmedDisplay
        case .value: confirmedValue
        }
    }

    mutating func insertConfirmed(_ range: ClosedRange<Seq>, at level: ConfirmationLevel) {
        switch level {
        case .receipt: confirmedReceipt.insert(range)
        case .display: confirmedDisplay.insert(range)
        case .value: confirmedValue.insert(range)
        }
        insertUnechoed(range, at: level)
    }

    /// Notes a change at `level` for the next `synced`.
    mutating func insertUnechoed(_ range: ClosedRange<Seq>, at level: ConfirmationLevel) {
        switch level {
        case .receipt: unechoed.receipt?.insert(range)
        case .display: unechoed.display?.insert(range)
        case .value: unechoed.value?.insert(range)
        }
    }

    /// Whether `run` has ended in this session: its terminal event was emitted, or it has its verdict.
    func hasEnded(_ run: String) -> Bool {
        if let index = runIndexByID[run] { return runs[Int(index)]!.isClosed }
        return endedRuns.contains(run)
    }

    /// The index of `run`'s tracker, created if the run is new.
    mutating func runIndex(for run: String, requestedAt: UInt64? = nil) -> UInt32 {
        if let index = runIndexByID[run] { return index }
        let tracker = RunTracker(id: run, requestedAt: requestedAt)
        let index: UInt32
        if let free = freeRunIndices.popLast() {
            index = free
            runs[Int(index)] = tracker
        } else {
            index = UInt32(runs.count)
            runs.append(tracker)
        }
        runIndexByID[run] = index
        return index
    }

    /// Forgets a finished run's tracker, remembering that its id has ended.
    mutating func releaseRun(at index: UInt32, rememberingUpTo limit: Int) {
        guard let tracker = runs[Int(index)] else { return }
        endedRuns.insert(tracker.id, limit: limit)
        if runIndexByID[tracker.id] == index { runIndexByID[tracker.id] = nil }
        runs[Int(index)] = nil
        freeRunIndices.append(index)
    }

    /// What `synced` says per level: everything confirmed at that level, plus every resolved seq (the server needs
    /// nothing more for it). With too many ranges for one frame, the cumulative part plus what changed since the
    /// last `synced` — always true, and it lets the client release what it just confirmed.
    func syncedSets(includeAll: Bool) -> Synced {
        func echo(_ level: ConfirmationLevel, _ changes: AckSet?) -> AckSet? {
            let full = confirmed(at: level).union(resolved)
            if full.ranges.count <= ProtocolLimits.maxAckRanges { return full }
            var partial = AckSet(upTo: full.upTo)
            if !includeAll, let changes { partial.formUnion(changes) }
            return partial.ranges.count <= ProtocolLimits.maxAckRanges ? partial : full.capped()
        }
        return Synced(
            receipt: echo(.receipt, unechoed.receipt), display: echo(.display, unechoed.display),
            value: echo(.value, unechoed.value))
    }
}
