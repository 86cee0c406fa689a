import EventAckProtocol

extension Reconciler {
    /// When ``timerFired(now:)`` must next be called, if anything is scheduled.
    public var nextDeadline: UInt64? { timers.earliest }

    /// Time passed: retransmit, mark overdue, fail, ping, close dead connections, flush `synced` and expire
    /// sessions — whatever is due, and nothing else (the cost is what is due, not what is outstanding).
    public mutating func timerFired(now: UInt64) -> [ReconcilerAction] {
        while let entry = timers.popDue(now: now) {
            guard isLive(entry) else {
                timers.forgetStale()
                continue
            }
            switch entry.target {
            case .event(let key, let seq):
                sessions[key]!.events[seq].deadline = 0
                eventDeadlinePassed(seq, session: key, now: now)
            case .session(let key):
                sessions[key]!.timerDeadline = 0
                sessionTimerFired(key, now: now)
            case .connection(let connection):
                connections[connection]!.timerDeadline = 0
                connectionTimerFired(connection, now: now)
            }
        }
        dropStaleTimers()
        return takeActions()
    }

    /// Whether a heap entry is still the current deadline of its target.
    func isLive(_ entry: TimerHeap.Entry) -> Bool {
        switch entry.target {
        case .event(let key, let seq):
            guard let session = sessions[key], session.events.contains(seq) else { return false }
            return session.events[seq].deadline == entry.deadline
        case .session(let key):
            return sessions[key]?.timerDeadline == entry.deadline
        case .connection(let connection):
            return connections[connection]?.timerDeadline == entry.deadline
        }
    }

    mutating func dropStaleTimers() {
        // The heap is taken out of `self` so that checking entries reads state without copying the heap.
        var heap = timers
        timers = TimerHeap()
        heap.dropStaleTop { self.isLive($0) }
        timers = heap
    }

    // MARK: Events

    /// Sets the one pending deadline of an event (0 clears it).
    mutating func setEventDeadline(_ seq: Seq, session key: UInt64, to deadline: UInt64) {
        let previous = sessions[key]!.events[seq].deadline
        guard previous != deadline else { return }
        sessions[key]!.events[seq].deadline = deadline
        if previous != 0 { invalidateTimer() }
        if deadline != 0 { timers.schedule(.event(session: key, seq: seq), at: deadline) }
    }

    /// One scheduled entry went stale; purge the heap once stale entries dominate.
    private mutating func invalidateTimer() {
        timers.noteStale()
        guard timers.needsPurge else { return }
        var heap = timers
        timers = TimerHeap()
        heap.purge { self.isLive($0) }
        timers = heap
    }

    private mutating func eventDeadlinePassed(_ seq: Seq, session key: UInt64, now: UInt64) {
        let retained = sessions[key]!.events[seq]
        switch retained.stage {
        case .queued, .resolved:
            return
        case .inFlight:
            // EA-RTX-1: resend with backoff until the attempts are used up; a detached session waits for its
            // resume, which replays everything.
            guard let connection = sessions[key]!.connection else { return }
            if UInt64(retained.attempt) >= configuration.retransmission.maxAttempts {
                fail(seq, session: key, reason: .receiptTimeout, now: now)
            } else {
                transmit(seq, session: key, on: connection, now: now)
            }
        case .awaitingDisplay, .awaitingValue:
            // § 8, EA-RTX-3: overdue (reported), then failed; never resent.
            let level: ConfirmationLevel = retained.stage == .awaitingDisplay ? .display : .value
            guard let deadline = level == .display ? configuration.displayDeadline : configuration.valueDeadline else {
                return
            }
            if !retained.isOverdue && deadline.failAfterMs > deadline.overdueAfterMs {
                sessions[key]!.events[seq].isOverdue = true
                count(session: key, run: retained.runIndex) { $0.overdue += 1 }
                let reference = self.reference(seq, session: key)
                let waited = now - min(now, retained.stageStartedAt)
                pendingActions.append(.report(.overdue(reference, level: level, waitedMs: waited)))
                setEventDeadline(seq, session: key, to: retained.stageStartedAt + deadline.failAfterMs)
            } else {
                if !retained.isOverdue { count(session: key, run: retained.runIndex) { $0.overdue += 1 } }
                fail(seq, session: key, reason: .timeout(level), now: now)
            }
        }
    }

    // MARK: Sessions: synced and expiry

    /// New confirmations were recorded: send `synced` now, or once `ackDelayMs` has passed since the last one
    /// (EA-SYNC-2).
    mutating func requestSynced(_ key: UInt64, now: UInt64) {
        sessions[key]!.syncedPending = true
        guard sessions[key]!.connection != nil else { return }
        if now >= sessions[key]!.lastSyncedAt + configuration.ackDelayMs {
            sendSynced(key, includeAll: false, now: now)
        } else {
            scheduleSessionTimer(key, now: now)
        }
    }

    mutating func sendSynced(_ key: UInt64, includeAll: Bool, now: UInt64) {
        guard let connection = sessions[key]!.connection else { return }
        let synced = sessions[key]!.syncedSets(includeAll: includeAll)
        sessions[key]!.syncedPending = false
        sessions[key]!.lastSyncedAt = now
        sessions[key]!.unechoed = Synced(receipt: AckSet(), display: AckSet(), value: AckSet())
        send(.synced(synced), on: connection, now: now)
    }

    /// Arms the session's timer for its earliest need (a pending `synced`, or expiry while detached). A later
    /// timer already armed is left alone and re-armed when it fires.
    mutating func scheduleSessionTimer(_ key: UInt64, now: UInt64) {
        guard let session = sessions[key] else { return }
        var due = UInt64.max
        if session.syncedPending, session.connection != nil {
            due = min(due, session.lastSyncedAt + configuration.ackDelayMs)
        }
        if case .detached(let since) = session.attachment { due = min(due, since + configuration.resumeWindowMs) }
        guard due != .max, session.timerDeadline == 0 || due < session.timerDeadline else { return }
        if session.timerDeadline != 0 { invalidateTimer() }
        sessions[key]!.timerDeadline = max(due, now)
        timers.schedule(.session(key), at: max(due, now))
    }

    private mutating func sessionTimerFired(_ key: UInt64, now: UInt64) {
        if case .detached(let since) = sessions[key]!.attachment, now >= since + configuration.resumeWindowMs {
            expire(key, now: now)
            return
        }
        if sessions[key]!.syncedPending, sessions[key]!.connection != nil,
            now >= sessions[key]!.lastSyncedAt + configuration.ackDelayMs
        {
            sendSynced(key, includeAll: false, now: now)
        }
        scheduleSessionTimer(key, now: now)
    }

    /// EA-RES-5: the resume window passed. Every unconfirmed event fails with `session_expired`, every open run
    /// gets its verdict, and the session is forgotten (its figures stay in the report).
    private mutating func expire(_ key: UInt64, now: UInt64) {
        var unconfirmed = 0
        var seq = sessions[key]!.events.firstSeq
        while seq < sessions[key]!.events.endSeq {
            if sessions[key]!.events[seq].stage != .resolved {
                unconfirmed += 1
                fail(seq, session: key, reason: .sessionExpired, now: now)
            }
            seq += 1
        }
        endSession(key, reason: .sessionExpired, state: .expired, now: now)
        let session = sessions.removeValue(forKey: key)!
        sessionKeys[session.id] = nil
        pendingActions.append(.report(.sessionExpired(session.id, principal: session.principal, unconfirmed: unconfirmed)))
    }

    /// Gives every open run of the session its verdict and files the session's report.
    private mutating func endSession(_ key: UInt64, reason: FailureReason, state: SessionReport.State, now: UInt64) {
        for index in sessions[key]!.runs.indices where sessions[key]!.runs[index] != nil {
            sessions[key]!.runs[index]!.sessionEnded(reason: reason)
            finishRun(UInt32(index), session: key)
        }
        book.sessionEnded(sessionReport(key, state: state, now: now), keeping: configuration.retainedSessionReports)
    }

    // MARK: Connections: heartbeats and liveness

    /// Arms the connection's timer for its next ping or liveness check. A later timer already armed is left
    /// alone: sends and receipts only push these moments back, and the timer re-arms itself when it fires.
    mutating func scheduleConnectionTimer(_ connection: ConnectionID, now: UInt64) {
        guard let state = connections[connection] else { return }
        var due = state.lastReceivedAt + 2 * configuration.heartbeatMs
        if state.session != nil { due = min(due, state.lastSentAt + configuration.heartbeatMs) }
        due = max(due, now + 1)
        guard state.timerDeadline == 0 || due < state.timerDeadline else { return }
        if state.timerDeadline != 0 { invalidateTimer() }
        connections[connection]!.timerDeadline = due
        timers.schedule(.connection(connection), at: due)
    }

    /// EA-LIVE-4: ping when nothing was sent for a heartbeat interval; a peer silent for two is dead.
    private mutating func connectionTimerFired(_ connection: ConnectionID, now: UInt64) {
        let state = connections[connection]!
        let silent = now - min(now, state.lastReceivedAt)
        if silent >= 2 * configuration.heartbeatMs {
            close(connection, reason: "no frame for \(silent) ms", now: now)
            return
        }
        if state.session != nil, now - min(now, state.lastSentAt) >= configuration.heartbeatMs {
            connections[connection]!.nextPingID += 1
            send(.ping(id: state.nextPingID), on: connection, now: now)
        }
        scheduleConnectionTimer(connection, now: now)
    }
}
