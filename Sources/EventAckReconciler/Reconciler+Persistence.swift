import EventAckProtocol

extension Reconciler {
    // MARK: Inputs

    /// The store answered a ``ReconcilerAction/load(_:)``: `records` are the session's records in order, or `nil`
    /// when the store does not know it. The session is rebuilt from them (replacing an older copy held here, if
    /// another node served it since), and every `hello` waiting for it is answered — resumed if it passes the
    /// checks of EA-RES-2, refused with a fresh session otherwise.
    public mutating func sessionLoaded(
        _ session: SessionID, records: [SessionRecord]?, now: UInt64
    ) -> [ReconcilerAction] {
        if let records, let restored = restoredSession(from: records, now: now) {
            if let key = sessionKeys[session], sessions[key]?.token != restored.token {
                // The store knows a newer session than the copy here: another node resumed it since.
                drop(key, reason: "session taken over by another node", now: now)
            }
            if sessionKeys[session] == nil { install(restored, now: now) }
        }
        let waiting = connections.filter { $0.value.loading?.resume?.session == session.rawValue }.keys.sorted()
        for connection in waiting {
            let hello = connections[connection]!.loading!
            connections[connection]!.loading = nil
            connections[connection]!.loadedFromStore = true
            helloReceived(hello, on: connection, now: now)
        }
        return takeActions()
    }

    /// The store refused records of `lost` because another node took them over (the fence): this node stops serving
    /// them at once — their connections close, so that their clients resume on the owner — and forgets them
    /// without reporting failures (the owner reports them).
    public mutating func sessionsLost(_ lost: Set<SessionID>, now: UInt64) -> [ReconcilerAction] {
        for id in lost.sorted(by: { $0.rawValue < $1.rawValue }) {
            if let key = sessionKeys[id] { drop(key, reason: "session taken over by another node", now: now) }
        }
        return takeActions()
    }

    // MARK: Writing ahead

    /// Notes a change for the store; ``takeActions()`` puts it before every other action of the input.
    mutating func record(_ session: SessionID, _ change: SessionRecord.Change) {
        guard writesAhead, !isRestoring else { return }
        pendingRecords.append(SessionRecord(session: session, change: change))
    }

    /// Whether a refused resume should first ask the store: it may know the session (opened or last resumed on
    /// another node) or a newer copy of it than this one. Asked once per connection.
    func shouldLoad(after refusal: ResumeRefusal, on connection: ConnectionID) -> Bool {
        writesAhead && refusal != .otherPrincipal && connections[connection]?.loadedFromStore == false
    }

    // MARK: Rebuilding a session

    /// Forgets a session without a verdict: it lives on elsewhere.
    private mutating func drop(_ key: UInt64, reason: String, now: UInt64) {
        guard let session = sessions.removeValue(forKey: key) else { return }
        sessionKeys[session.id] = nil
        sessionsByPrincipal[session.principal]?.remove(key)
        if sessionsByPrincipal[session.principal]?.isEmpty == true { sessionsByPrincipal[session.principal] = nil }
        if let connection = session.connection {
            connections[connection]?.session = nil
            close(connection, reason: reason, now: now)
        }
    }

    private mutating func install(_ session: SessionState, now: UInt64) {
        var session = session
        sessionKeys[session.id] = session.key
        sessionsByPrincipal[session.principal, default: []].insert(session.key)
        // Deadlines start again from the recovery: the waits before it are not known to have been the client's.
        var seq = session.events.firstSeq
        while seq < session.events.endSeq {
            let retained = session.events[seq]
            if retained.stage == .awaitingDisplay || retained.stage == .awaitingValue {
                let deadline =
                    retained.stage == .awaitingDisplay
                    ? configuration.displayDeadline : configuration.valueDeadline
                session.events[seq].stageStartedAt = now
                session.events[seq].isOverdue = false
                setEventDeadline(
                    seq, session: &session, to: deadline.map { now + $0.overdueAfterMs } ?? 0)
            } else {
                setEventDeadline(seq, session: &session, to: 0)
            }
            seq += 1
        }
        scheduleSessionTimer(&session, now: now)
        sessions[session.key] = session
    }

    /// Replays `records` through the same rules that wrote them, with their own times and without actions: the
    /// session as it stood, detached since `now`. Events sent but not receipt-confirmed are taken as in flight
    /// (a resume replays them); events above the highest confirmed seq as never sent (the window sends them).
    private mutating func restoredSession(from records: [SessionRecord], now: UInt64) -> SessionState? {
        guard case .opened(let principal, let token, let version, let window, let openedAt)? = records.first?.change
        else { return nil }
        let id = records[0].session
        isRestoring = true
        let actionsBefore = pendingActions
        defer {
            pendingActions = actionsBefore
            isRestoring = false
        }
        var session = SessionState(
            key: nextSessionKey, id: id, principal: principal, token: token, connection: ConnectionID(rawValue: 0),
            window: window, version: version, now: openedAt)
        nextSessionKey += 1
        session.attachment = .detached(since: now)
        for record in records.dropFirst() where record.session == id {
            replay(record.change, into: &session)
        }
        // Sent is known only up to the highest seq the client confirmed or that failed; what follows goes back to
        // the queue, so that the window holds.
        let highest =
            [
                session.confirmedReceipt.highest, session.confirmedDisplay.highest, session.confirmedValue.highest,
                session.resolved.highest,
            ].compactMap { $0 }.max() ?? 0
        let cursor = min(max(highest + 1, session.events.firstSeq), session.nextSeq)
        var seq = cursor
        while seq < session.nextSeq {
            if session.events[seq].stage == .inFlight {
                session.events[seq].stage = .queued
                session.events[seq].attempt = 0
                session.inFlight -= 1
            }
            seq += 1
        }
        session.sendCursor = cursor
        session.maybeSent = cursor < session.nextSeq ? cursor..<session.nextSeq : nil
        return session
    }

    private mutating func replay(_ change: SessionRecord.Change, into session: inout SessionState) {
        switch change {
        case .resumed(let token, let previousToken, let previousValidUntil, let version, let window, _):
            session.token = token
            session.previousToken = previousToken.map { ($0, previousValidUntil) }
            session.version = version
            session.window = window
        case .emitted(let seq, let run, let kind, let ts, let confirm, let endsRun, let payload, _):
            guard seq == session.nextSeq else { return }
            session.nextSeq += 1
            let runIndex = session.runIndex(for: run)
            _ = session.runs[Int(runIndex)]!.observe(
                kind: kind, seq: seq, at: ts, payload: payload, profile: configuration.runProfile)
            var retained = RetainedEvent(
                payload: payload, kind: kind, emittedAt: ts, runIndex: runIndex, confirm: confirm)
            retained.endsRun = endsRun
            // Taken as sent once until the end of the replay says otherwise.
            retained.stage = .inFlight
            retained.attempt = 1
            session.events.append(retained)
            session.sendCursor = session.nextSeq
            session.inFlight += 1
            count(session: &session, run: runIndex) { stats in
                stats.events += 1
                for level in ConfirmationLevel.allCases where level <= confirm { stats[level].requested += 1 }
            }
        case .confirmed(let level, let seqs, let at):
            applyConfirmations(seqs, at: level, session: &session, now: at)
        case .failed(let seq, let reason, let at):
            fail(seq, session: &session, reason: reason, now: at)
        case .runRequested(let run, let at):
            let index = session.runIndex(for: run, requestedAt: at)
            if session.runs[Int(index)]!.requestedAt == nil { session.runs[Int(index)]!.requestedAt = at }
        case .opened, .runFinished, .ended:
            break
        }
    }
}
