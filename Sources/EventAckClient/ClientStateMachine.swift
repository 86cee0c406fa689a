import EventAckProtocol

/// The client side of EventAck as a pure state machine: no I/O, no clock, no randomness.
///
/// Every input is a `mutating func` named for what happened, takes `now` (milliseconds of a monotonic clock) and
/// returns the ``ClientAction``s to perform, in order. After every input the shell arms one timer for
/// ``nextDeadline`` and calls ``timerFired(now:)`` when it passes. The machine keeps the session across
/// connections: delivery state, retained confirmations and run liveness survive a reconnect and are resumed.
///
/// Rules live in the extensions: delivery and receipt acks (`+Delivery`), display and value confirmations
/// (`+Confirmations`), liveness of runs and connections (`+Liveness`), the bounded close (`+Close`) and snapshots
/// (`+Snapshot`). Every way out of the connected state goes through `leaveConnection(to:)`.
public struct ClientStateMachine: Sendable {
    /// The connection, with exactly the data valid in each state.
    enum ConnectionState: Sendable {
        /// No connection: before the first, between reconnects, or after ``close(now:)``.
        case disconnected
        /// `hello` sent, `welcome` not yet received.
        case handshaking(since: UInt64)
        /// The session is live on this connection.
        case connected(Link)
        /// `bye` sent; nothing more is accepted or sent.
        case closed
    }

    /// The parameters of a live connection.
    struct Link: Sendable {
        /// The version the server chose.
        var version: ProtocolVersion
        /// The window the server announced: it bounds how far above the highest seq seen a `synced` may reach.
        var window: UInt64
        var heartbeatMs: UInt64
        var ackDelayMs: UInt64
        var lastReceivedAt: UInt64
        var lastSentAt: UInt64
    }

    /// What the client knows of its session; survives reconnects.
    struct Session: Sendable {
        var id: String
        var token: String
    }

    let configuration: ClientConfiguration
    var connection: ConnectionState = .disconnected
    var session: Session?
    var delivery = DeliveryState()
    var confirmations = ConfirmationState()
    var runs = RunLiveness()
    var nextPingID: UInt64 = 1
    /// Set by ``close(now:timeoutMs:)`` until the close finishes.
    var closing: Closing?
    /// Why the next `welcome` with `resumed:false` resets the session (the server's `resume_rejected`).
    var pendingRejection: ErrorMessage?

    /// Creates a machine with no session. The configuration is ``ClientConfiguration/normalized()`` first.
    public init(configuration: ClientConfiguration = ClientConfiguration()) {
        self.configuration = configuration.normalized()
    }

    /// The session id, once a `welcome` was received.
    public var sessionID: String? { session?.id }

    /// Events received above a hole and held until it fills (or the server says it failed, EA-SYNC-5).
    public var heldEventCount: Int { delivery.buffered.count }

    /// Whether the handshake completed on the current connection.
    public var isConnected: Bool {
        if case .connected = connection { return true }
        return false
    }

    // MARK: Inputs

    /// A connection was opened: send `hello`, resuming the session if there is one (EA-HS-1, EA-RES-1).
    public mutating func connected(now: UInt64) -> [ClientAction] {
        if case .closed = connection { return [] }
        leaveConnection(to: .handshaking(since: now))
        runs.adoptRestored(now: now, timeoutMs: configuration.runIdleTimeoutMs)
        let resume = session.map {
            ResumeRequest(session: $0.id, token: $0.token, receipt: delivery.received.capped())
        }
        let hello = Hello(
            versions: configuration.versions, client: configuration.client, window: configuration.window,
            resume: resume)
        return [.send(.hello(hello))]
    }

    /// A text frame arrived. Frames that do not decode are answered as the spec says (EA-EVT-6, EA-MSG-11) and
    /// change nothing else.
    public mutating func frameReceived(_ text: String, now: UInt64) -> [ClientAction] {
        do {
            let message = try MessageCodec().decode(text)
            return messageReceived(message, now: now)
        } catch {
            noteReceived(now: now)
            if let seq = error.seq, isConnected {
                let nack = Nack(seq: seq, level: .receipt, reason: .undecodable, detail: error.description)
                return sent(.nack(nack), now: now) + [.signal(.protocolViolation(error))]
            }
            return sent(.error(ErrorMessage(error, fatal: false)), now: now) + [.signal(.protocolViolation(error))]
        }
    }

    /// A decoded message arrived.
    public mutating func messageReceived(_ message: Message, now: UInt64) -> [ClientAction] {
        noteReceived(now: now)
        switch (connection, message) {
        case (.closed, _), (.disconnected, _):
            return []
        case (.handshaking, .welcome(let welcome)):
            return welcomeReceived(welcome, now: now)
        case (.handshaking, .error(let error)) where error.code == .resumeRejected:
            // A fresh `welcome` follows (EA-RES-2); the reset is reported when it arrives.
            pendingRejection = error
            return [.signal(.serverError(error))]
        case (.handshaking, .error(let error)):
            return serverErrorReceived(error, now: now)
        case (.handshaking, .ping(let id)):
            return sent(.pong(id: id), now: now)
        case (.handshaking, _):
            // EA-HS-2: nothing but welcome precedes the session.
            let error = EventAckError(
                code: .handshakeRequired, message: "\(message.type.rawValue) before welcome", path: "$.type")
            leaveConnection(to: .disconnected)
            return [
                .send(.error(ErrorMessage(error, fatal: true))), .signal(.protocolViolation(error)),
                .closeConnection(reason: "handshake_required"),
            ]
        case (.connected, .event(let event)):
            return eventReceived(event, now: now)
        case (.connected, .progress(let progress)):
            return runs.activity(run: progress.run, now: now, timeoutMs: configuration.runIdleTimeoutMs)
        case (.connected(let link), .synced(let synced)):
            return syncedReceived(synced, link: link, now: now)
        case (.connected, .ping(let id)):
            return sent(.pong(id: id), now: now)
        case (.connected, .pong):
            return []
        case (.connected, .error(let error)):
            return serverErrorReceived(error, now: now)
        case (.connected, .bye(let reason)):
            // EA-BYE-3: the server is going away (a restart, a deploy); reconnect and resume, unless closing.
            leaveConnection(to: .disconnected)
            return [.signal(.disconnected(reason: reason ?? "server said bye")), .closeConnection(reason: "bye")]
                + finishCloseIfDone(now: now)
        case (.connected, .welcome), (.connected, .hello), (.connected, .ack), (.connected, .nack):
            let error = EventAckError(
                code: .invalidMessage, message: "a client does not accept \(message.type.rawValue) here",
                path: "$.type")
            return sent(.error(ErrorMessage(error, fatal: false)), now: now) + [.signal(.protocolViolation(error))]
        }
    }

    /// The connection ended (closed by either side or failed). The session is kept for resuming.
    public mutating func connectionClosed(now: UInt64, reason: String = "connection closed") -> [ClientAction] {
        switch connection {
        case .closed, .disconnected:
            return []
        case .handshaking, .connected:
            leaveConnection(to: .disconnected)
            return [.signal(.disconnected(reason: reason))] + finishCloseIfDone(now: now)
        }
    }

    /// Every way out of the connected (or handshaking) state: what only a live link may wait for — the coalesced
    /// ack, the echo of confirmations — is dropped here, so that no deadline of a dead link keeps firing (it made the
    /// client spin at 100 % CPU after a server `bye`). A welcome re-arms them.
    mutating func leaveConnection(to next: ConnectionState) {
        connection = next
        delivery.ackDue = nil
        confirmations.awaitingEchoSince = nil
    }

    // MARK: Helpers shared by the extensions

    /// Records a send on the live link (for the idle ping) and returns the action.
    mutating func sent(_ message: Message, now: UInt64) -> [ClientAction] {
        if case .connected(var link) = connection {
            link.lastSentAt = now
            connection = .connected(link)
        }
        return [.send(message)]
    }

    private mutating func noteReceived(now: UInt64) {
        if case .connected(var link) = connection {
            link.lastReceivedAt = now
            connection = .connected(link)
        }
    }

    private mutating func welcomeReceived(_ welcome: Welcome, now: UInt64) -> [ClientAction] {
        guard configuration.versions.contains(where: { $0.major == welcome.version.major }) else {
            let error = EventAckError(
                code: .unsupportedVersion, message: "server chose \(welcome.version), not offered",
                path: "$.version")
            leaveConnection(to: .disconnected)
            return [
                .send(.error(ErrorMessage(error, fatal: true))), .signal(.protocolViolation(error)),
                .closeConnection(reason: "unsupported_version"),
            ]
        }
        var actions: [ClientAction] = []
        if let previous = session, !welcome.resumed || previous.id != welcome.session {
            let rejection = pendingRejection
            actions += resetSession(
                previous, reason: .resumeRejected,
                message: rejection?.message ?? "the server opened a new session instead of resuming")
        }
        pendingRejection = nil
        session = Session(id: welcome.session, token: welcome.token)
        connection = .connected(
            Link(
                version: welcome.version, window: welcome.window, heartbeatMs: welcome.heartbeatMs,
                ackDelayMs: welcome.ackDelayMs, lastReceivedAt: now, lastSentAt: now))
        actions.append(.signal(.connected(session: welcome.session, resumed: welcome.resumed)))
        if welcome.resumed || closing != nil {
            // EA-RES-4: re-send every confirmation the server has not echoed, at once.
            actions += flushAck(now: now, force: true)
        }
        return actions + finishCloseIfDone(now: now)
    }

    private mutating func serverErrorReceived(_ error: ErrorMessage, now: UInt64) -> [ClientAction] {
        var actions: [ClientAction] = [.signal(.serverError(error))]
        if error.code == .sessionExpired, let previous = session {
            actions += resetSession(previous, reason: .sessionExpired, message: error.message)
        }
        if error.fatal {
            leaveConnection(to: .disconnected)
            actions.append(.closeConnection(reason: error.code.rawValue))
            actions += finishCloseIfDone(now: now)
        }
        return actions
    }

    /// Forgets the session's state and reports what can no longer be confirmed, and which runs it ends: a run
    /// whose terminal event never came will not get one in the next session, so the app must hear it ended.
    private mutating func resetSession(_ previous: Session, reason: ErrorCode, message: String) -> [ClientAction] {
        let reset = SessionReset(
            session: previous.id, reason: reason, message: message,
            unconfirmed: Set(delivery.outstanding.keys).union(confirmations.unsyncedSeqs()).sorted(),
            lost: delivery.bufferedRange(), endedRuns: runs.openRuns)
        delivery = DeliveryState()
        confirmations = ConfirmationState()
        runs = RunLiveness()
        session = nil
        return [.signal(.sessionReset(reset))]
    }
}
