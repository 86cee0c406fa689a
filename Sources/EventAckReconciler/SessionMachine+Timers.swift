import EventAckProtocol

extension SessionMachine {
    // MARK: Event deadlines

    /// Sets the one pending deadline of an event (0 clears it).
    mutating func setEventDeadline(_ seq: Seq, to deadline: UInt64, context: inout SessionContext) {
        let previous = events[seq].deadline
        guard previous != deadline else { return }
        events[seq].deadline = deadline
        if previous != 0 { context.invalidateTimer() }
        if deadline != 0 { context.timers.schedule(.event(session: key, seq: seq), at: deadline) }
    }

    /// Arms the first deadline of an event waiting for display or value: overdue, from `now` (§ 8).
    mutating func armOverdueDeadline(_ seq: Seq, now: UInt64, context: inout SessionContext) {
        let deadline = events[seq].stage.awaitedLevel.flatMap { context.configuration.deadline(awaiting: $0) }
        setEventDeadline(seq, to: deadline.map { now + $0.overdueAfterMs } ?? 0, context: &context)
    }

    /// The deadline of `seq` passed: resend it, or mark it overdue, or fail it.
    mutating func eventDeadlinePassed(_ seq: Seq, now: UInt64, context: inout SessionContext) {
        events[seq].deadline = 0
        let retained = events[seq]
        switch retained.stage {
        case .queued, .resolved:
            return
        case .inFlight:
            // EA-RTX-1: resend with backoff until the attempts are used up; a detached session waits for its
            // resume, which replays everything.
            guard let connection else { return }
            resend(seq, because: .timeout, on: connection, now: now, context: &context)
        case .awaitingDisplay, .awaitingValue:
            // § 8, EA-RTX-3: overdue (reported), then failed; never resent.
            guard let level = retained.stage.awaitedLevel,
                let deadline = context.configuration.deadline(awaiting: level)
            else { return }
            if !retained.isOverdue && deadline.failAfterMs > deadline.overdueAfterMs {
                events[seq].isOverdue = true
                count(run: retained.runIndex, context: &context) { $0.overdue += 1 }
                let waited = now - min(now, retained.stageStartedAt)
                context.report(.overdue(reference(seq), level: level, waitedMs: waited))
                setEventDeadline(seq, to: retained.stageStartedAt + deadline.failAfterMs, context: &context)
            } else {
                if !retained.isOverdue { count(run: retained.runIndex, context: &context) { $0.overdue += 1 } }
                fail(seq, reason: .timeout(level), now: now, context: &context)
            }
        }
    }

    /// After a recovery, deadlines start again: the waits before it are not known to have been the client's.
    /// Events waiting for display or value wait afresh; in-flight ones wait for the resume, which replays them.
    mutating func restartDeadlines(now: UInt64, context: inout SessionContext) {
        var seq = events.firstSeq
        while seq < events.endSeq {
            if events[seq].stage.awaitedLevel != nil {
                events[seq].stageStartedAt = now
                events[seq].isOverdue = false
                armOverdueDeadline(seq, now: now, context: &context)
            } else {
                setEventDeadline(seq, to: 0, context: &context)
            }
            seq += 1
        }
        scheduleTimer(now: now, context: &context)
    }

    // MARK: synced

    /// New confirmations were recorded: a `synced` is due, sent by ``flushSynced(now:context:)`` at the end of the
    /// input (so that it echoes the whole input, not the part applied so far) or by the session timer once
    /// `ackDelayMs` has passed since the last one (EA-SYNC-2).
    mutating func requestSynced(now: UInt64, context: inout SessionContext) {
        syncedPending = true
        guard connection != nil else { return }
        scheduleTimer(now: now, context: &context)
    }

    /// Sends the pending `synced` if the coalescing delay allows it now.
    mutating func flushSynced(now: UInt64, context: inout SessionContext) {
        guard syncedPending, connection != nil, now >= lastSyncedAt + context.configuration.ackDelayMs else { return }
        sendSynced(includeAll: false, now: now, context: &context)
    }

    mutating func sendSynced(includeAll: Bool, now: UInt64, context: inout SessionContext) {
        guard let connection else { return }
        let synced = syncedSets(includeAll: includeAll)
        syncedPending = false
        lastSyncedAt = now
        unechoed = Synced(receipt: AckSet(), display: AckSet(), value: AckSet())
        context.send(.synced(synced), on: connection, now: now)
    }

    // MARK: The session timer: synced and expiry

    /// Arms the session's timer for its earliest need (a pending `synced`, or expiry while detached). A later
    /// timer already armed is left alone and re-armed when it fires.
    mutating func scheduleTimer(now: UInt64, context: inout SessionContext) {
        var due = UInt64.max
        if syncedPending, connection != nil { due = min(due, lastSyncedAt + context.configuration.ackDelayMs) }
        if case .detached(let since) = attachment { due = min(due, since + context.configuration.resumeWindowMs) }
        if let idle = nextIdleDeadline(configuration: context.configuration) { due = min(due, idle) }
        guard due != .max, timerDeadline == 0 || due < timerDeadline else { return }
        if timerDeadline != 0 { context.invalidateTimer() }
        timerDeadline = max(due, now)
        context.timers.schedule(.session(key), at: max(due, now))
    }

    /// The session's timer fired. Returns whether the session lives on: `false` once its resume window passed and
    /// it expired (the reconciler then forgets it).
    mutating func timerFired(now: UInt64, context: inout SessionContext) -> Bool {
        timerDeadline = 0
        if case .detached(let since) = attachment, now >= since + context.configuration.resumeWindowMs {
            expire(now: now, context: &context)
            return false
        }
        endSilentRuns(now: now, context: &context)
        flushSynced(now: now, context: &context)
        scheduleTimer(now: now, context: &context)
        return true
    }

    /// EA-RES-5: the resume window passed (or the principal needs room, EA-ISO-6). Every unconfirmed event fails
    /// with `session_expired`, every open run gets its verdict, and the session's report is filed; the reconciler
    /// forgets the session (its figures stay in the report).
    mutating func expire(now: UInt64, context: inout SessionContext) {
        var unconfirmed = 0
        var seq = events.firstSeq
        while seq < events.endSeq {
            if events[seq].stage != .resolved {
                unconfirmed += 1
                fail(seq, reason: .sessionExpired, now: now, context: &context)
            }
            // Failing the head drops it and every resolved event behind it from the ring: continue from what is
            // still retained (found by the simulator: an expiry with a resolved event after an unresolved head).
            seq = max(seq + 1, events.firstSeq)
        }
        for index in runs.indices where runs[index] != nil {
            runs[index]!.sessionEnded(reason: .sessionExpired)
            finishRun(UInt32(index), context: &context)
        }
        context.book.sessionEnded(
            report(state: .expired), keeping: context.configuration.retainedSessionReports)
        context.record(id, .ended(at: now))
        context.report(.sessionExpired(id, principal: principal, unconfirmed: unconfirmed))
    }

    /// The session's line in the report.
    func report(state: SessionReport.State) -> SessionReport {
        SessionReport(
            session: id, principal: principal, state: state, openedAt: openedAt, retainedEvents: events.count,
            openRuns: runs.reduce(0) { $0 + ($1 == nil ? 0 : 1) }, stats: stats)
    }
}
