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
                var session = sessions.removeValue(forKey: key)!
                session.events[seq].deadline = 0
                eventDeadlinePassed(seq, session: &session, now: now)
                sessions[key] = consume session
            case .session(let key):
                var session = sessions.removeValue(forKey: key)!
                session.timerDeadline = 0
                if sessionTimerFired(&session, now: now) { sessions[key] = consume session }
            case .connection(let connection):
                connections[connection]!.timerDeadline = 0
                connectionTimerFired(connection, now: now)
            }
        }
        return takeActions()
    }

    /// Whether a heap entry is still the current deadline of its target.
    func isLive(_ entry: TimerHeap.Entry) -> Bool {
        Self.isLive(entry, sessions: sessions, connections: connections)
    }

    static func isLive(
        _ entry: TimerHeap.Entry,
        sessions: [UInt64: SessionState],
        connections: [ConnectionID: ConnectionState]
    ) -> Bool {
        switch entry.target {
        case .event(let key, let seq):
            // Through `values[index]`, which reads in place; `sessions[key]` would copy the whole session.
            guard let index = sessions.index(forKey: key) else { return false }
            let events = sessions.values[index].events
            return events.contains(seq) && events[seq].deadline == entry.deadline
        case .session(let key):
            guard let index = sessions.index(forKey: key) else { return false }
            return sessions.values[index].timerDeadline == entry.deadline
        case .connection(let connection):
            return connections[connection]?.timerDeadline == entry.deadline
        }
    }

    // MARK: Events

    /// Sets the one pending deadline of an event (0 clears it).
    mutating func setEventDeadline(_ seq: Seq, session: inout SessionState, to deadline: UInt64) {
        let previous = session.events[seq].deadline
        guard previous != deadline else { return }
        session.events[seq].deadline = deadline
        if previous != 0 { invalidateTimer() }
        if deadline != 0 { timers.schedule(.event(session: session.key, seq: seq), at: deadline) }
    }

    /// One scheduled entry went stale. The purge waits for the end of the input (``finishTimers()``): while a
    /// session is out of the table for an input, its entries would look stale.
    mutating func invalidateTimer() {
        timers.noteStale()
    }

    /// End of an input: purge the heap if stale entries dominate, and make ``nextDeadline`` a live one.
    mutating func finishTimers() {
        guard timers.needsPurge || timers.staleCount > 0 else { return }
        // Explicit captures: a closure over `self` would copy the whole machine.
        let (sessions, connections) = (self.sessions, self.connections)
        if timers.needsPurge { timers.purge { Self.isLive($0, sessions: sessions, connections: connections) } }
        timers.dropStaleTop { Self.isLive($0, sessions: sessions, connections: connections) }
    }

    private mutating func eventDeadlinePassed(_ seq: Seq, session: inout SessionState, now: UInt64) {
        let retained = session.events[seq]
        switch retained.stage {
        case .queued, .resolved:
            return
        case .inFlight:
            // EA-RTX-1: resend with backoff until the attempts are used up; a detached session waits for its
            // resume, which replays everything.
            guard let connection = session.connection else { return }
            resendOrFail(seq, session: &session, on: connection, now: now)
        case .awaitingDisplay, .awaitingValue:
            // § 8, EA-RTX-3: overdue (reported), then failed; never resent.
            let level: ConfirmationLevel = retained.stage == .awaitingDisplay ? .display : .value
            guard let deadline = level == .display ? configuration.displayDeadline : configuration.valueDeadline else {
                return
            }
            if !retained.isOverdue && deadline.failAfterMs > deadline.overdueAfterMs {
                session.events[seq].isOverdue = true
                count(session: &session, run: retained.runIndex) { $0.overdue += 1 }
                let reference = self.reference(seq, in: session)
                let waited = now - min(now, retained.stageStartedAt)
                pendingActions.append(.report(.overdue(reference, level: level, waitedMs: waited)))
                setEventDeadline(seq, session: &session, to: retained.stageStartedAt + deadline.failAfterMs)
            } else {
                if !retained.isOverdue { count(session: &session, run: retained.runIndex) { $0.overdue += 1 } }
                fail(seq, session: &session, reason: .timeout(level), now: now)
            }
        }
    }

    // MARK: Sessions: synced and expiry

    /// New confirmations were recorded: a `synced` is due, sent by ``flushSynced(_:now:)`` at the end of the input
    /// (so that it echoes the whole input, not the part applied so far) or by the session timer once `ackDelayMs`
    /// has passed since the last one (EA-SYNC-2).
    mutating func requestSynced(_ session: inout SessionState, now: UInt64) {
        session.syncedPending = true
        guard session.connection != nil else { return }
        scheduleSessionTimer(&session, now: now)
    }

    /// Sends the pending `synced` if the coalescing delay allows it now.
    mutating func flushSynced(_ session: inout SessionState, now: UInt64) {
        guard session.syncedPending, session.connection != nil,
            now >= session.lastSyncedAt + configuration.ackDelayMs
        else { return }
        sendSynced(&session, includeAll: false, now: now)
    }

    mutating func sendSynced(_ session: inout SessionState, includeAll: Bool, now: UInt64) {
        guard let connection = session.connection else { return }
        let synced = session.syncedSets(includeAll: includeAll)
        session.syncedPending = false
        session.lastSyncedAt = now
        session.unechoed = Synced(receipt: AckSet(), display: AckSet(), value: AckSet())
        send(.synced(synced), on: connection, now: now)
    }

    /// Arms the session's timer for its earliest need (a pending `synced`, or expiry while detached). A later
    /// timer already armed is left alone and re-armed when it fires.
    mutating func scheduleSessionTimer(_ session: inout SessionState, now: UInt64) {
        var due = UInt64.max
        if session.syncedPending, session.connection != nil {
            due = min(due, session.lastSyncedAt + configuration.ackDelayMs)
        }
        if case .detached(let since) = session.attachment { due = min(due, since + configuration.resumeWindowMs) }
        guard due != .max, session.timerDeadline == 0 || due < session.timerDeadline else { return }
        if session.timerDeadline != 0 { invalidateTimer() }
        session.timerDeadline = max(due, now)
        timers.schedule(.session(session.key), at: max(due, now))
    }

    /// Returns whether the session lives on.
    private mutating func sessionTimerFired(_ session: inout SessionState, now: UInt64) -> Bool {
        if case .detached(let since) = session.attachment, now >= since + configuration.resumeWindowMs {
            expire(&session, now: now)
            return false
        }
        flushSynced(&session, now: now)
        scheduleSessionTimer(&session, now: now)
        return true
    }

    /// EA-RES-5: the resume window passed. Every unconfirmed event fails with `session_expired`, every open run
    /// gets its verdict, and the session is forgotten (its figures stay in the report).
    mutating func expire(_ session: inout SessionState, now: UInt64) {
        var unconfirmed = 0
        var seq = session.events.firstSeq
        while seq < session.events.endSeq {
            if session.events[seq].stage != .resolved {
                unconfirmed += 1
                fail(seq, session: &session, reason: .sessionExpired, now: now)
            }
            // Failing the head drops it and every resolved event behind it from the ring: continue from what is
            // still retained (found by the simulator: an expiry with a resolved event after an unresolved head).
            seq = max(seq + 1, session.events.firstSeq)
        }
        endSession(&session, reason: .sessionExpired, state: .expired, now: now)
        record(session.id, .ended(at: now))
        sessionKeys[session.id] = nil
        sessionsByPrincipal[session.principal]?.remove(session.key)
        if sessionsByPrincipal[session.principal]?.isEmpty == true { sessionsByPrincipal[session.principal] = nil }
        pendingActions.append(
            .report(.sessionExpired(session.id, principal: session.principal, unconfirmed: unconfirmed)))
    }

    /// Gives every open run of the session its verdict and files the session's report.
    private mutating func endSession(
        _ session: inout SessionState, reason: FailureReason, state: SessionReport.State, now: UInt64
    ) {
        for index in session.runs.indices where session.runs[index] != nil {
            session.runs[index]!.sessionEnded(reason: reason)
            finishRun(UInt32(index), session: &session)
        }
        book.sessionEnded(sessionReport(session, state: state, now: now), keeping: configuration.retainedSessionReports)
    }

    // MARK: Connections: heartbeats and liveness

    /// Arms the connection's timer for its next ping or liveness check. A later timer already armed is left
    /// alone: sends and receipts only push these moments back, and the timer re-arms itself when it fires.
    mutating func scheduleConnectionTimer(_ connection: ConnectionID, now: UInt64) {
        guard let state = connections[connection] else { return }
        var due = state.lastReceivedAt + 2 * configuration.heartbeatMs
        if state.session != nil {
            due = min(due, state.lastSentAt + configuration.heartbeatMs)
        } else {
            due = min(due, state.openedAt + configuration.handshakeTimeoutMs)
        }
        due = max(due, now + 1)
        guard state.timerDeadline == 0 || due < state.timerDeadline else { return }
        if state.timerDeadline != 0 { invalidateTimer() }
        connections[connection]!.timerDeadline = due
        timers.schedule(.connection(connection), at: due)
    }

    /// EA-LIVE-4: ping when nothing was sent for a heartbeat interval; a peer silent for two is dead.
    private mutating func connectionTimerFired(_ connection: ConnectionID, now: UInt64) {
        let state = connections[connection]!
        if state.session == nil, now >= state.openedAt + configuration.handshakeTimeoutMs {
            // EA-HS-5: frames that never make a handshake (garbage, invalid hellos) do not keep a connection open.
            close(connection, reason: "no handshake within \(configuration.handshakeTimeoutMs) ms", now: now)
            return
        }
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
