import EventAckProtocol

extension SessionMachine {
    /// Gives an event the next seq (EA-EVT-1), validates it against the run profile, retains it until it is
    /// confirmed at `confirm` or fails, and sends it when the window allows. See
    /// ``Reconciler/emit(run:kind:payload:confirm:endsRun:to:origin:now:)``.
    mutating func emit(
        run: String,
        kind: String,
        payload: Payload,
        confirm: ConfirmationLevel,
        endsRun: Bool?,
        origin: String?,
        now: UInt64,
        context: inout SessionContext
    ) throws(ReconcilerError) -> Seq {
        do {
            try checkAdmits(run: run, configuration: context.configuration)
        } catch {
            if error.code == "run_ended" { countRefusedEmit(context: &context) }
            throw error
        }
        return append(
            run: run, kind: kind, payload: payload, confirm: confirm, endsRun: endsRun, origin: origin, now: now,
            context: &context)
    }

    /// Numbers, records and queues an event that was admitted (or that the server must send whatever the queue
    /// holds: a silent run's terminal).
    @discardableResult
    private mutating func append(
        run: String, kind: String, payload: Payload, confirm: ConfirmationLevel, endsRun: Bool?, origin: String?,
        now: UInt64, context: inout SessionContext
    ) -> Seq {
        let seq = nextSeq
        nextSeq += 1
        let isNewRun = runIndexByID[run] == nil
        let runIndex = runIndex(for: run)
        if endsRun == true { runs[Int(runIndex)]!.endedByEmitter = true }
        let profile = context.configuration.profile(named: runs[Int(runIndex)]!.profileName)
        let breaches = runs[Int(runIndex)]!.observe(
            kind: kind, seq: seq, at: now, payload: payload, origin: origin, profile: profile)
        var retained = RetainedEvent(payload: payload, kind: kind, emittedAt: now, runIndex: runIndex, confirm: confirm)
        retained.endsRun = endsRun ?? profile?.terminalKinds.contains(kind) ?? false
        events.append(retained)
        context.record(
            id,
            .emitted(
                seq: seq, run: run, kind: kind, ts: now, confirm: confirm, endsRun: retained.endsRun, payload: payload,
                origin: origin))
        countEmitted(confirm, run: runIndex, context: &context)
        for breach in breaches { context.report(.sloBreached(run: run, session: id, breach)) }
        pump(now: now, context: &context)
        if isNewRun { scheduleTimer(now: now, context: &context) }
        return seq
    }

    /// Whether an emit for `run` would be taken now: the run has not ended here (EA-RUN-1) and the window and queue
    /// have room (EA-FLOW-2). The one place both are decided, for an emit and for a fan-out's check beforehand.
    func checkAdmits(run: String, configuration: ReconcilerConfiguration) throws(ReconcilerError) {
        guard !hasEnded(run) else { throw .runEnded(run, in: id) }
        let queued = queuedCount
        guard queued < configuration.maxQueuedEvents else { throw .windowExceeded(id, queued: queued) }
    }

    /// The first request for `run`, at `at`: the origin of its `.request` SLOs and of its idle timeout, which
    /// `idleTimeoutMs` may set (EA-RUN-2). Later requests change nothing but may ask for its confirmations to be
    /// reported; a request for a run that has ended is refused like its emits (EA-RUN-1).
    mutating func runRequested(
        _ run: String, at: UInt64, reportingConfirmations: Bool, idleTimeoutMs: UInt64?, profile: String?,
        now: UInt64, context: inout SessionContext
    ) throws(ReconcilerError) {
        guard !hasEnded(run) else { throw .runEnded(run, in: id) }
        if let index = runIndexByID[run], runs[Int(index)]?.requestedAt != nil {
            if reportingConfirmations { runs[Int(index)]!.reportsConfirmations = true }
            return
        }
        let index = runIndex(for: run, requestedAt: at)
        runs[Int(index)]!.requestedAt = at
        runs[Int(index)]!.lastHeardAt = max(runs[Int(index)]!.lastHeardAt ?? now, now)
        runs[Int(index)]!.idleTimeoutMs = idleTimeoutMs
        if reportingConfirmations { runs[Int(index)]!.reportsConfirmations = true }
        // A profile applies from the run's first event: one named after events were emitted is not taken.
        let profile = runs[Int(index)]!.startedAt == nil ? profile : nil
        runs[Int(index)]!.profileName = profile
        context.record(
            id,
            .runRequested(
                run: run, at: at, idleTimeoutMs: idleTimeoutMs, reportsConfirmations: reportingConfirmations,
                profile: profile))
        scheduleTimer(now: now, context: &context)
    }

    /// The producer of `run` sent a progress note: it is alive (EA-RUN-2). Refused for a run that has ended.
    mutating func heard(from run: String, now: UInt64) throws(ReconcilerError) {
        guard !hasEnded(run) else { throw .runEnded(run, in: id) }
        guard let index = runIndexByID[run] else { return }
        runs[Int(index)]!.lastHeardAt = max(runs[Int(index)]!.lastHeardAt ?? now, now)
    }

    /// Ends every open run whose producer has been silent for its idle timeout (EA-RUN-2): emits the profile's
    /// failure terminal with `payload.reason` `agent_silent`, past the queue bound if need be. Its record's origin
    /// (``RunTracker/silenceOrigin``) says the server emitted it, so that it survives a recovery and no producer
    /// can pass its own failure off as the server's.
    mutating func endSilentRuns(now: UInt64, context: inout SessionContext) {
        let timeout = context.configuration.runIdleTimeoutMs
        // One pass over the runs, no filtered copy of them: this runs whenever the session's timer fires (a pending
        // `synced` too).
        for index in runs.indices {
            guard let run = runs[index], let deadline = run.idleDeadline(defaultTimeoutMs: timeout), deadline <= now
            else { continue }
            let kind =
                context.configuration.profile(named: run.profileName)?.failureKinds.sorted().first ?? "agent_failed"
            append(
                run: run.id, kind: kind, payload: .silentRun(idleMs: now - (run.lastHeardAt ?? now)), confirm: .receipt,
                endsRun: true, origin: RunTracker.silenceOrigin, now: now, context: &context)
        }
    }

    /// The earliest time an open run goes silent, if any has an idle timeout.
    func nextIdleDeadline(configuration: ReconcilerConfiguration) -> UInt64? {
        runs.lazy.compactMap { $0?.idleDeadline(defaultTimeoutMs: configuration.runIdleTimeoutMs) }.min()
    }

    /// Counts a new event in the figures of its run, the session and the total.
    mutating func countEmitted(_ confirm: ConfirmationLevel, run index: UInt32, context: inout SessionContext) {
        count(run: index, context: &context) { stats in
            stats.events += 1
            for level in ConfirmationLevel.allCases where level <= confirm { stats[level].requested += 1 }
        }
    }

    /// Sends queued events while the window has room (EA-FLOW-1).
    mutating func pump(now: UInt64, context: inout SessionContext) {
        guard let connection else { return }
        while inFlight < window, sendCursor < nextSeq {
            let seq = markNextSent(now: now)
            transmit(seq, on: connection, now: now, context: &context)
        }
    }

    /// Moves the send cursor past the next queued event, which is now in flight; returns its seq.
    mutating func markNextSent(now: UInt64) -> Seq {
        let seq = sendCursor
        sendCursor += 1
        inFlight += 1
        events[seq].stage = .inFlight
        events[seq].stageStartedAt = now
        return seq
    }

    /// Sends (or resends) an in-flight event with the next attempt number and arms its receipt deadline. Callers
    /// check the attempt limit first (``resend(_:because:on:now:context:)``).
    mutating func transmit(_ seq: Seq, on connection: ConnectionID, now: UInt64, context: inout SessionContext) {
        let retained = events[seq]
        guard let payload = retained.payload, let run = runs[Int(retained.runIndex)]?.id else {
            preconditionFailure("an in-flight event keeps its payload and run")
        }
        let attempt = events[seq].countAttempt()
        events[seq].stageStartedAt = now
        if attempt > 1 { count(run: retained.runIndex, context: &context) { $0.retransmissions += 1 } }
        let event = Event(
            seq: seq, run: run, kind: retained.kind, ts: retained.emittedAt, confirm: retained.confirm,
            attempt: UInt64(attempt), payload: payload,
            endsRun: retained.endsRun && version >= ProtocolVersion(major: 1, minor: 1))
        context.send(.event(event), on: connection, now: now)
        let delay = context.configuration.retransmission.delayMs(
            afterAttempt: UInt64(attempt), random: context.jitter.next())
        setEventDeadline(seq, to: now + delay, context: &context)
    }

    /// Why an in-flight event would be sent again.
    enum ResendCause: Sendable, Hashable {
        /// Its receipt deadline passed (EA-RTX-1).
        case timeout
        /// The client nacked it at receipt, for this reason.
        case receiptNack(FailureReason)
        /// An ack's ranges show it missing (fast retransmit, EA-RTX-2).
        case hole
        /// The session was resumed (EA-RES-3).
        case replay
    }

    /// Resends an in-flight event, unless it was sent ``RetransmissionPolicy/maxAttempts`` times already. The one place
    /// the attempt limit is enforced, for every cause (EA-RTX-4), and the one place that says what a used-up event
    /// becomes: after a timeout or a replay it fails with `receipt_timeout`; after a receipt nack, with the nack's
    /// reason (the client said why); a hole changes nothing — the deadline after the last attempt is still running,
    /// and the event fails with `receipt_timeout` when it passes (EA-RTX-5), not earlier.
    mutating func resend(
        _ seq: Seq, because cause: ResendCause, on connection: ConnectionID, now: UInt64,
        context: inout SessionContext
    ) {
        guard UInt64(events[seq].attempt) >= context.configuration.retransmission.maxAttempts else {
            return transmit(seq, on: connection, now: now, context: &context)
        }
        switch cause {
        case .timeout, .replay: fail(seq, reason: .receiptTimeout, now: now, context: &context)
        case .receiptNack(let reason): fail(seq, reason: reason, now: now, context: &context)
        case .hole: break
        }
    }

    /// After a resume: resend every sent, unacknowledged event in seq order (EA-RES-3). A replay is an attempt like
    /// any other (EA-RTX-4): otherwise resuming over and over would resend an event for ever — and once drove its
    /// 16-bit counter to a trap that took every tenant's state with it.
    mutating func replayUnacknowledged(now: UInt64, context: inout SessionContext) {
        guard let connection else { return }
        // Failing an event pumps queued ones: those are first sends, not replays.
        let end = sendCursor
        var seq = events.firstSeq
        while seq < end {
            if events.contains(seq), events[seq].stage == .inFlight {
                resend(seq, because: .replay, on: connection, now: now, context: &context)
            }
            // Failing the head drops it and the resolved events behind it from the ring.
            seq = max(seq + 1, events.firstSeq)
        }
    }

    /// The client confirmed `level` (or a higher one) for `seq`: settle every level up to it that the event asks
    /// for, recording latencies and arming the next level's deadline.
    mutating func reach(_ level: ConfirmationLevel, seq: Seq, now: UInt64, context: inout SessionContext) {
        guard events.contains(seq) else { return }
        let retained = events[seq]
        guard retained.stage != .resolved, retained.stage != .queued else { return }
        let target = min(level, retained.confirm)
        if let reached = retained.reached, target <= reached { return }
        for step in ConfirmationLevel.allCases where step <= target && (retained.reached.map { step > $0 } ?? true) {
            count(run: retained.runIndex, context: &context) { stats in
                stats[step].confirmed += 1
                stats[step].latencyMs.record(now - min(now, retained.emittedAt))
                if step == retained.confirm { stats[step].confirmedAtRequestedLevel += 1 }
            }
        }
        if retained.stage == .inFlight { inFlight -= 1 }
        events[seq].reached = target
        events[seq].payload = nil
        events[seq].isOverdue = false
        events[seq].stageStartedAt = now
        guard target < retained.confirm else {
            if context.configuration.reportsEachConfirmation
                || runs[Int(retained.runIndex)]?.reportsConfirmations == true
            {
                context.report(
                    .confirmed(reference(seq), level: target, latencyMs: now - min(now, retained.emittedAt)))
            }
            resolve(seq, now: now, context: &context)
            return
        }
        events[seq].stage = target == .receipt ? .awaitingDisplay : .awaitingValue
        armOverdueDeadline(seq, now: now, context: &context)
    }

    /// The event failed at the lowest level it asks for and has not reached; final (EA-NACK-2, § 8).
    mutating func fail(_ seq: Seq, reason: FailureReason, now: UInt64, context: inout SessionContext) {
        guard events.contains(seq) else { return }
        let retained = events[seq]
        guard retained.stage != .resolved else { return }
        let level = retained.reached.flatMap(\.next) ?? .receipt
        count(run: retained.runIndex, context: &context) { stats in
            for step in ConfirmationLevel.allCases where step >= level && step <= retained.confirm {
                stats[step].failed += 1
            }
            stats.countFailures(reason.rawValue)
        }
        if retained.stage == .inFlight { inFlight -= 1 }
        events[seq].payload = nil
        context.record(id, .failed(seq: seq, reason: reason, at: now))
        runs[Int(retained.runIndex)]!.fail(
            RunFailure(code: reason.rawValue, detail: "\(retained.kind) failed at \(level.rawValue)", seq: seq))
        context.report(.failed(reference(seq), level: level, reason: reason))
        resolve(seq, now: now, context: &context)
        pump(now: now, context: &context)
    }

    /// Nothing more is expected of `seq`: release it, tell the client with the next `synced`, and give its run
    /// a verdict if this was the run's last unresolved event.
    private mutating func resolve(_ seq: Seq, now: UInt64, context: inout SessionContext) {
        events[seq].stage = .resolved
        setEventDeadline(seq, to: 0, context: &context)
        resolved.insert(seq)
        for level in ConfirmationLevel.allCases { insertUnechoed(seq...seq, at: level) }
        let runIndex = events[seq].runIndex
        events.dropResolvedPrefix()
        runs[Int(runIndex)]!.unresolvedEvents -= 1
        if runs[Int(runIndex)]!.isFinished { finishRun(runIndex, context: &context) }
        requestSynced(now: now, context: &context)
    }

    /// Records the verdict of a run and forgets its tracker.
    mutating func finishRun(_ index: UInt32, context: inout SessionContext) {
        guard let tracker = runs[Int(index)] else { return }
        let report = tracker.report(session: id, principal: principal)
        context.book.runFinished(report, keeping: context.configuration.retainedRunReports)
        context.record(id, .runFinished(report))
        context.report(.runFinished(report))
        releaseRun(at: index, rememberingUpTo: context.configuration.endedRunsRemembered)
    }

    func reference(_ seq: Seq) -> EventReference {
        let retained = events[seq]
        return EventReference(
            session: id, principal: principal, run: runs[Int(retained.runIndex)]?.id ?? "", seq: seq,
            kind: retained.kind)
    }

    /// Counts an emit refused because its run had ended (EA-RUN-1), in the session's and the total figures: it
    /// belongs to no run.
    mutating func countRefusedEmit(context: inout SessionContext) {
        stats.refusedEmits += 1
        context.book.overall.refusedEmits += 1
    }

    /// Applies a change to the figures of a run, its session and the total alike.
    mutating func count(
        run index: UInt32, context: inout SessionContext, _ change: (inout ConfirmationStats) -> Void
    ) {
        change(&runs[Int(index)]!.stats)
        change(&stats)
        change(&context.book.overall)
    }
}

extension ConfirmationLevel {
    /// The level above this one, if any.
    var next: ConfirmationLevel? {
        switch self {
        case .receipt: .display
        case .display: .value
        case .value: nil
        }
    }
}
