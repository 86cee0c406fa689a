import EventAckProtocol

extension Reconciler {
    /// When ``timerFired(now:)`` must next be called, if anything is scheduled.
    public var nextDeadline: UInt64? { context.timers.earliest }

    /// Time passed: retransmit, mark overdue, fail, ping, close dead connections, flush `synced` and expire
    /// sessions — whatever is due, and nothing else (the cost is what is due, not what is outstanding).
    public mutating func timerFired(now: UInt64) -> [ReconcilerAction] {
        while let entry = context.timers.popDue(now: now) {
            guard isLive(entry) else {
                context.timers.forgetStale()
                continue
            }
            switch entry.target {
            case .event(let key, let seq):
                modifying(key) { session, context in session.eventDeadlinePassed(seq, now: now, context: &context) }
            case .session(let key):
                let lives = modifying(key) { session, context in session.timerFired(now: now, context: &context) }
                if !lives { removeSession(key) }
            case .connection(let connection):
                context.connections[connection]!.timerDeadline = 0
                connectionTimerFired(connection, now: now)
            }
        }
        return takeActions()
    }

    /// Whether a heap entry is still the current deadline of its target.
    func isLive(_ entry: TimerHeap.Entry) -> Bool {
        Self.isLive(entry, sessions: sessions, connections: context.connections)
    }

    static func isLive(
        _ entry: TimerHeap.Entry,
        sessions: [UInt64: SessionMachine],
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

    /// End of an input: purge the heap if stale entries dominate, and make ``nextDeadline`` a live one.
    mutating func finishTimers() {
        guard context.timers.needsPurge || context.timers.staleCount > 0 else { return }
        // Explicit captures: a closure over `self` would copy the whole machine.
        let (sessions, connections) = (self.sessions, context.connections)
        if context.timers.needsPurge {
            context.timers.purge { Self.isLive($0, sessions: sessions, connections: connections) }
        }
        context.timers.dropStaleTop { Self.isLive($0, sessions: sessions, connections: connections) }
    }

    /// Forgets a session (expired, or live on another node): it is no longer resumable nor counted against its
    /// principal.
    mutating func removeSession(_ key: UInt64) {
        guard let session = sessions.removeValue(forKey: key) else { return }
        sessionKeys[session.id] = nil
        sessionsByPrincipal[session.principal]?.remove(key)
        if sessionsByPrincipal[session.principal]?.isEmpty == true { sessionsByPrincipal[session.principal] = nil }
    }

    // MARK: Connections: heartbeats and liveness

    /// Arms the connection's timer for its next ping or liveness check. A later timer already armed is left
    /// alone: sends and receipts only push these moments back, and the timer re-arms itself when it fires.
    mutating func scheduleConnectionTimer(_ connection: ConnectionID, now: UInt64) {
        guard let state = context.connections[connection] else { return }
        var due = state.lastReceivedAt + 2 * configuration.heartbeatMs
        if state.session != nil {
            due = min(due, state.lastSentAt + configuration.heartbeatMs)
        } else {
            due = min(due, state.openedAt + configuration.handshakeTimeoutMs)
        }
        due = max(due, now + 1)
        guard state.timerDeadline == 0 || due < state.timerDeadline else { return }
        if state.timerDeadline != 0 { context.invalidateTimer() }
        context.connections[connection]!.timerDeadline = due
        context.timers.schedule(.connection(connection), at: due)
    }

    /// EA-LIVE-4: ping when nothing was sent for a heartbeat interval; a peer silent for two is dead.
    private mutating func connectionTimerFired(_ connection: ConnectionID, now: UInt64) {
        let state = context.connections[connection]!
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
            context.connections[connection]!.nextPingID += 1
            context.send(.ping(id: state.nextPingID), on: connection, now: now)
        }
        scheduleConnectionTimer(connection, now: now)
    }
}
