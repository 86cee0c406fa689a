import EventAckProtocol

/// What the client's shell must do after an input to ``ClientStateMachine``.
public enum ClientAction: Sendable, Hashable {
    /// Send this message on the current connection.
    case send(Message)
    /// Hand this event to the app. Each seq of a session is delivered exactly once, in order.
    case deliver(Event)
    /// Tell the app something happened.
    case signal(ClientSignal)
    /// Close the current connection (a dead peer, or after a fatal error). The shell reconnects.
    case closeConnection(reason: String)
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
    /// The earlier session is gone (`resume_rejected` or `session_expired`): these seqs had been delivered but
    /// their confirmations can no longer reach the server, and `lost` (if any) were never delivered.
    case sessionReset(session: String, unconfirmed: [Seq], lost: ClosedRange<Seq>?)
    /// The server gave up on these seqs (they failed at receipt, and its `synced` says so, EA-SYNC-5): they will
    /// never be delivered, and the events held above them were delivered. Order is kept; nothing is skipped
    /// silently.
    case eventsLost(seqs: [Seq])
    /// Nothing arrived for twice the heartbeat interval; the connection is being closed and will be resumed.
    case connectionDead(silentMs: UInt64)
    /// Reconnecting failed `attempts` times in a row; the client stopped (only with a bounded reconnect policy).
    case gaveUp(attempts: Int, lastError: String)
}

/// A mistake of the app using the client API, thrown and never sent on the wire.
public struct ClientUsageError: Error, Sendable, Hashable, CustomStringConvertible {
    /// A stable code: `not_delivered`, `level_not_requested` or `not_connected`.
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
