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
        if let records,
            let restored = SessionMachine(restoring: records, key: nextSessionKey, now: now, context: &context)
        {
            nextSessionKey += 1
            if let key = sessionKeys[session], sessions[key]?.token != restored.token {
                // The store knows a newer session than the copy here: another node resumed it since.
                drop(key, reason: "session taken over by another node", now: now)
            }
            if sessionKeys[session] == nil { install(restored, now: now) }
        }
        let waiting = context.connections.filter { $0.value.loading?.resume?.session == session.rawValue }.keys.sorted()
        for connection in waiting {
            let hello = context.connections[connection]!.loading!
            context.connections[connection]!.loading = nil
            context.connections[connection]!.loadedFromStore = true
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

    // MARK: Loading

    /// Whether a refused resume should first ask the store: it may know the session (opened or last resumed on
    /// another node) or a newer copy of it than this one. Asked once per connection.
    func shouldLoad(after refusal: ResumeRefusal, on connection: ConnectionID) -> Bool {
        writesAhead && refusal != .otherPrincipal && context.connections[connection]?.loadedFromStore == false
    }

    // MARK: Rebuilding a session

    /// Forgets a session without a verdict: it lives on elsewhere.
    private mutating func drop(_ key: UInt64, reason: String, now: UInt64) {
        guard let connection = sessions[key]?.connection else { return removeSession(key) }
        removeSession(key)
        context.connections[connection]?.session = nil
        close(connection, reason: reason, now: now)
    }

    /// Puts a rebuilt session in the table, detached, its deadlines started again.
    private mutating func install(_ session: SessionMachine, now: UInt64) {
        var session = session
        sessionKeys[session.id] = session.key
        sessionsByPrincipal[session.principal, default: []].insert(session.key)
        session.restartDeadlines(now: now, context: &context)
        sessions[session.key] = session
    }
}
