import EventAckProtocol

/// What the service must do after an input to ``Reconciler``, in order.
public enum ReconcilerAction: Sendable, Hashable {
    /// Send this message on this connection.
    case send(Message, to: ConnectionID)
    /// Close this connection (after a fatal error, a dead peer, `bye`, or a resume elsewhere). The reconciler has
    /// already forgotten it; its session, if any, waits for a resume.
    case close(ConnectionID, reason: String)
    /// Something worth logging or alerting on happened.
    case report(ReconciliationEvent)
    /// Make these records durable (``SessionStore/append(_:commit:)``) before performing any later action: write-ahead.
    /// Returned only by a reconciler that ``Reconciler/writesAhead``, always first among an input's actions.
    case persist([SessionRecord])
    /// A client resumes a session not held here (or held in an older copy): load it from the store and pass what
    /// the store returns to ``Reconciler/sessionLoaded(_:records:now:)``.
    case load(SessionID)

    var isPersist: Bool {
        if case .persist = self { return true }
        return false
    }
}

/// The live stream of reconciliation: confirmations, overdue and failed events, SLO breaches, finished runs and
/// session changes. Nothing fails silently: every failure of an event or run appears here and in the report.
public enum ReconciliationEvent: Sendable, Hashable {
    /// A handshake completed on `connection`.
    case sessionOpened(SessionID, principal: String, connection: ConnectionID, resumed: Bool)
    /// A resume was refused and a fresh session follows (EA-RES-2). `reason` never contains the token.
    case resumeRejected(requested: SessionID, principal: String, reason: String)
    /// The session's connection ended; the session waits `resumeWindowMs` for a resume.
    case sessionDetached(SessionID, principal: String, reason: String)
    /// The session was not resumed in time; `unconfirmed` events failed with `session_expired` (EA-RES-5).
    case sessionExpired(SessionID, principal: String, unconfirmed: Int)
    /// An event reached the level it asks for.
    case confirmed(EventReference, level: ConfirmationLevel, latencyMs: UInt64)
    /// An event passed the overdue deadline of `level` (it can still be confirmed).
    case overdue(EventReference, level: ConfirmationLevel, waitedMs: UInt64)
    /// An event failed at `level`; final.
    case failed(EventReference, level: ConfirmationLevel, reason: FailureReason)
    /// A run broke a timing SLO of its profile: a warning, not a failure.
    case sloBreached(run: String, session: SessionID, SLOBreach)
    /// A run has a final verdict: its terminal event was emitted and each of its events is confirmed or failed
    /// (or its session ended).
    case runFinished(RunReport)
    /// A peer sent something invalid; it was answered with an `error` carrying `error.code`.
    case protocolError(ConnectionID, session: SessionID?, error: EventAckError, fatal: Bool)
    /// A client reported an error.
    case clientError(ConnectionID, session: SessionID?, ErrorMessage)
    /// The ``SessionStore`` failed; what depends on it waits and is retried.
    case storeFailed(message: String)
}
