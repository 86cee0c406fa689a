import EventAckProtocol

/// What the client's shell must do after an input to ``ClientStateMachine``.
public enum ClientAction: Sendable, Hashable {
    /// Send this message on the current connection.
    case send(Message)
    /// Hand this event to the app. Each seq of a session is delivered exactly once, in order.
    case deliver(Event)
    /// Tell the app something happened.
    case signal(ClientSignal)
    /// Close the current connection (a dead peer, or after a fatal error). The shell reconnects unless the machine
    /// is closed.
    case closeConnection(reason: String)
    /// ``ClientStateMachine/close(now:timeoutMs:)`` finished: `bye` was sent (if a connection was live) and nothing
    /// more is accepted. The report says what the server did not confirm having.
    case closed(CloseReport)
}

/// Something the app should know about: progress of the connection, stalls and failures. Nothing fails silently.
public enum ClientSignal: Sendable, Hashable {
    /// The handshake completed; `resumed` says whether the earlier session continues.
    case connected(session: String, resumed: Bool)
    /// The connection ended; the client will reconnect unless it was closed.
    case disconnected(reason: String)
    /// A run has had no event and no `progress` for `idleMs`.
    case runStalled(run: String, idleMs: UInt64)
    /// A stalled run showed activity again.
    case runResumed(run: String)
    /// A run ended with a terminal event of `kind`.
    case runEnded(run: String, kind: String)
    /// The server reported an error.
    case serverError(ErrorMessage)
    /// The server sent something this client could not accept (answered on the wire as the spec says).
    case protocolViolation(EventAckError)
    /// The earlier session is gone (`resume_rejected`, for example after a server restart, or `session_expired`):
    /// what can no longer be confirmed, and the runs that can no longer end in it.
    case sessionReset(SessionReset)
    /// The server gave up on these seqs (they failed at receipt, and its `synced` says so, EA-SYNC-5): they will
    /// never be delivered, and the events held above them were delivered. One signal per contiguous range, just
    /// before the event that follows it, so order is kept and nothing is skipped silently.
    case eventsLost(ClosedRange<Seq>)
    /// Nothing arrived for twice the heartbeat interval; the connection is being closed and will be resumed.
    case connectionDead(silentMs: UInt64)
    /// Connecting failed (no server, a refused upgrade or token): `attempt` failures in a row so far. The client tries
    /// again after its reconnect delay; a wrong URL or token shows here rather than as silence.
    case connectFailed(attempt: Int, error: String)
    /// Reconnecting failed `attempts` times in a row; the client stopped (only with a bounded reconnect policy).
    case gaveUp(attempts: Int, lastError: String)
}

/// What a session reset ended: reported once, when the client learns that its earlier session is gone.
public struct SessionReset: Sendable, Hashable {
    /// The session that ended.
    public var session: String
    /// Why, as the spec's error code: `resume_rejected` (the server no longer has the session — it
    /// restarted without durable state, the session expired, or the token was refused) or
    /// `session_expired`.
    public var reason: ErrorCode
    /// The server's words, for people (escape before printing: it comes from the peer).
    public var message: String
    /// Delivered seqs whose display or value confirmation can no longer reach the server.
    public var unconfirmed: [Seq]
    /// Seqs held above a hole and never delivered.
    public var lost: ClosedRange<Seq>?
    /// Runs that had events but no terminal one: they can no longer end in this session. An app should end them
    /// in its UI with ``reason`` instead of waiting for its own timeout.
    public var endedRuns: [String]

    /// Creates a report.
    public init(
        session: String,
        reason: ErrorCode,
        message: String,
        unconfirmed: [Seq],
        lost: ClosedRange<Seq>?,
        endedRuns: [String]
    ) {
        (self.session, self.reason, self.message) = (session, reason, message)
        (self.unconfirmed, self.lost, self.endedRuns) = (unconfirmed, lost, endedRuns)
    }
}

/// What a close could not settle with the server: empty lists mean the server confirmed having everything
/// (EA-BYE-2).
public struct CloseReport: Sendable, Hashable {
    /// Whether the server's `synced` covered every receipt, confirmation and nack before `bye` was sent. `false`
    /// when the close timed out, or there was no connection to flush on.
    public var isComplete: Bool
    /// Seqs the app confirmed (display or value) or rejected that the server never echoed: it may record them as
    /// failed (`display_timeout`, `session_expired`…).
    public var unsynced: [Seq]
    /// Received seqs whose receipt the server never echoed.
    public var unechoedReceipts: [ClosedRange<Seq>]
    /// Delivered events still waiting for the app's display or value confirmation.
    public var outstanding: [OutstandingEvent]

    /// Creates a report.
    public init(
        isComplete: Bool,
        unsynced: [Seq],
        unechoedReceipts: [ClosedRange<Seq>],
        outstanding: [OutstandingEvent]
    ) {
        (self.isComplete, self.unsynced) = (isComplete, unsynced)
        (self.unechoedReceipts, self.outstanding) = (unechoedReceipts, outstanding)
    }
}

/// A mistake of the app using the client API, thrown and never sent on the wire.
public struct ClientUsageError: Error, Sendable, Hashable, CustomStringConvertible {
    /// A stable code: `not_delivered` or `level_not_requested`.
    public var code: String
    /// What was wrong.
    public var message: String

    /// The seq was never delivered to the app in this session.
    public static func notDelivered(_ seq: Seq) -> Self {
        Self(code: "not_delivered", message: "seq \(seq) was never delivered in this session")
    }

    /// The event did not ask for this level.
    public static func levelNotRequested(_ seq: Seq, _ level: ConfirmationLevel) -> Self {
        Self(code: "level_not_requested", message: "seq \(seq) does not ask for \(level.rawValue) confirmation")
    }

    public var description: String { "\(code): \(message)" }
}
