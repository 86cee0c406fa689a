import EventAckProtocol

/// The server side of EventAck as a pure state machine: every session, connection, retained event, deadline and
/// run verdict of one server, with no I/O, no clock and no randomness of its own.
///
/// Every input is a `mutating func` named for what happened and takes `now` (milliseconds; the
/// ``ReconcilerService`` passes Unix time so that `event.ts` means something). Inputs return the
/// ``ReconcilerAction``s to perform, in order. After each input the shell arms one timer for ``nextDeadline`` and
/// calls ``timerFired(now:)`` when it passes. Randomness (session ids, resume tokens, retransmission jitter) comes
/// from the generator passed to ``init(configuration:random:writesAhead:)``.
///
/// The rules live in extensions: the handshake and resume (`+Handshake`), emitting, sending and settling events
/// (`+Events`), acks and nacks (`+Acknowledgements`), timers and liveness (`+Timers`). The report is built by
/// ``report(now:principal:limit:)`` from the report book the inputs keep up to date.
public struct Reconciler: Sendable {
    /// A connection, before and after its handshake.
    struct ConnectionState: Sendable {
        let principal: String
        let openedAt: UInt64
        /// The session, once `hello` was answered.
        var session: UInt64?
        var lastReceivedAt: UInt64
        var lastSentAt: UInt64
        /// The connection's pending timer (heartbeat or liveness).
        var timerDeadline: UInt64 = 0
        var nextPingID: UInt64 = 1
        /// A `hello` waiting for its session to be loaded from the store.
        var loading: Hello?
        /// Whether the store was asked for this connection's resume already (once is enough).
        var loadedFromStore = false
    }

    /// The configuration in force.
    public let configuration: ReconcilerConfiguration
    let codec: MessageCodec
    var random: any RandomNumberGenerator & Sendable
    /// Retransmission jitter needs no secrecy, only spread: a SplitMix64 seeded once from `random`, so that each
    /// send does not cost a call into the (possibly system) generator.
    var jitter: SplitMix64
    var connections: [ConnectionID: ConnectionState] = [:]
    var sessions: [UInt64: SessionState] = [:]
    var sessionKeys: [SessionID: UInt64] = [:]
    /// Each principal's sessions, for ``ReconcilerConfiguration/maxSessionsPerPrincipal``.
    var sessionsByPrincipal: [String: Set<UInt64>] = [:]
    var timers = TimerHeap()
    var book = ReportBook()
    var nextConnectionNumber: UInt64 = 1
    var nextSessionKey: UInt64 = 1
    /// Actions of the input being processed, returned when it ends.
    var pendingActions: [ReconcilerAction] = []
    /// Whether sessions are written ahead to a store (``ReconcilerAction/persist(_:)``) and loaded from it.
    public let writesAhead: Bool
    /// Records of the input being processed, persisted before its actions.
    var pendingRecords: [SessionRecord] = []
    /// While a session is rebuilt from its records: nothing is recorded again.
    var isRestoring = false

    /// Creates a reconciler with no connection.
    ///
    /// - Parameters:
    ///   - configuration: what to enforce; brought into range by ``ReconcilerConfiguration/normalized()``.
    ///   - random: the source of session ids, resume tokens (which must be unguessable: pass
    ///     `SystemRandomNumberGenerator()` in production) and jitter. Tests pass a seeded generator.
    ///   - writesAhead: whether sessions live in a ``SessionStore``: every change is returned as a
    ///     ``ReconcilerAction/persist(_:)`` before the actions that depend on it, and a resume of a session not held
    ///     here asks for it with ``ReconcilerAction/load(_:)``.
    public init(
        configuration: ReconcilerConfiguration = ReconcilerConfiguration(),
        random: some RandomNumberGenerator & Sendable,
        writesAhead: Bool = false
    ) {
        self.writesAhead = writesAhead
        self.configuration = configuration.normalized()
        self.codec = MessageCodec(maxFrameBytes: self.configuration.maxFrameBytes)
        var random = random
        self.jitter = SplitMix64(seed: random.next())
        self.random = random
    }

    // MARK: Inputs

    /// A connection was opened and the host authenticated it as `principal` (EA-HS-3). The client must send
    /// `hello` next; a connection without a completed handshake after ``ReconcilerConfiguration/handshakeTimeoutMs``
    /// is closed, whatever it sent meanwhile (EA-HS-5).
    public mutating func open(principal: String, now: UInt64) -> ConnectionID {
        let id = ConnectionID(rawValue: nextConnectionNumber)
        nextConnectionNumber += 1
        connections[id] = ConnectionState(principal: principal, openedAt: now, lastReceivedAt: now, lastSentAt: now)
        scheduleConnectionTimer(id, now: now)
        return id
    }

    /// A text frame arrived on `connection`. Frames that fail validation are answered with an `error` carrying the
    /// spec's code and change nothing else (EA-MSG-11).
    public mutating func frameReceived(_ text: String, on connection: ConnectionID, now: UInt64) -> [ReconcilerAction] {
        guard connections[connection] != nil else { return [] }
        connections[connection]!.lastReceivedAt = now
        do {
            let message = try codec.decode(text)
            messageReceived(message, on: connection, now: now)
        } catch {
            rejectFrame(error, on: connection, fatal: false, now: now)
        }
        return takeActions()
    }

    /// A binary frame arrived: EventAck messages are text frames (EA-MSG-1), so it is answered with a non-fatal
    /// `malformed_json` and changes nothing else (EA-MSG-12).
    public mutating func binaryFrameReceived(on connection: ConnectionID, now: UInt64) -> [ReconcilerAction] {
        guard connections[connection] != nil else { return [] }
        connections[connection]!.lastReceivedAt = now
        let error = EventAckError(code: .malformedJSON, message: "binary frames are not EventAck messages", path: "$")
        rejectFrame(error, on: connection, fatal: false, now: now)
        return takeActions()
    }

    /// A text message of `byteCount` bytes arrived and was discarded unread by the transport because it exceeds
    /// ``ReconcilerConfiguration/maxFrameBytes``: answered with a non-fatal `frame_too_large` (EA-MSG-8).
    public mutating func oversizedFrameReceived(
        byteCount: Int, on connection: ConnectionID, now: UInt64
    ) -> [ReconcilerAction] {
        guard connections[connection] != nil else { return [] }
        connections[connection]!.lastReceivedAt = now
        let error = EventAckError(
            code: .frameTooLarge, message: "frame of \(byteCount) bytes exceeds \(configuration.maxFrameBytes)",
            path: "$")
        rejectFrame(error, on: connection, fatal: false, now: now)
        return takeActions()
    }

    /// A text frame arrived as bytes, not yet known to be UTF-8: bytes that are not are answered with a non-fatal
    /// `malformed_json` (EA-MSG-1, EA-MSG-11), never repaired.
    public mutating func frameReceived(
        bytes: some Collection<UInt8>, on connection: ConnectionID, now: UInt64
    ) -> [ReconcilerAction] {
        guard connections[connection] != nil else { return [] }
        connections[connection]!.lastReceivedAt = now
        do {
            let message = try codec.decode(bytes: bytes)
            messageReceived(message, on: connection, now: now)
        } catch {
            rejectFrame(error, on: connection, fatal: false, now: now)
        }
        return takeActions()
    }

    /// The connection ended (closed by the client or failed, or by the host for a `reason` of its own, such as a
    /// peer that does not read). Its session waits for a resume (EA-RES-5).
    public mutating func connectionClosed(
        _ connection: ConnectionID, now: UInt64, reason: String = "connection closed"
    ) -> [ReconcilerAction] {
        forget(connection, reason: reason, now: now)
        return takeActions()
    }

    /// The host has a new request for `run` in `session`: the origin of the profile's `.request` SLOs. Only the
    /// first request of a run counts.
    ///
    /// - Returns: with ``writesAhead``, the record of the request to persist; nothing else.
    @discardableResult
    public mutating func runRequested(
        _ run: String, in session: SessionID, now: UInt64
    ) throws(ReconcilerError) -> [ReconcilerAction] {
        try Self.checkIdentifier(run, "run")
        guard let key = sessionKeys[session] else { throw .unknownSession(session) }
        let known = sessions[key]!.runIndexByID[run].flatMap { sessions[key]!.runs[Int($0)]?.requestedAt }
        guard known == nil else { return takeActions() }
        let index = sessions[key]!.runIndex(for: run, requestedAt: now)
        sessions[key]!.runs[Int(index)]!.requestedAt = now
        record(session, .runRequested(run: run, at: now))
        return takeActions()
    }

    /// Says the run is alive without producing an event (EA-LIVE-1, EA-LIVE-2): call it every few seconds while an
    /// agent works silently. Not retained: a disconnected session gets none.
    public mutating func progress(
        run: String,
        note: String? = nil,
        in session: SessionID,
        now: UInt64
    ) throws(ReconcilerError) -> [ReconcilerAction] {
        try Self.checkIdentifier(run, "run")
        if let note, note.utf8.count > ProtocolLimits.maxTextBytes {
            throw .invalidArgument("note is longer than \(ProtocolLimits.maxTextBytes) bytes")
        }
        guard let key = sessionKeys[session], let connection = sessions[key]!.connection else {
            if sessionKeys[session] == nil { throw .unknownSession(session) }
            return []
        }
        send(.progress(Progress(run: run, ts: now, note: note)), on: connection, now: now)
        return takeActions()
    }

    /// Says `bye` to every connection and closes it. Sessions stay (detached) so that ``report(now:principal:limit:)`` lists what
    /// is still unconfirmed.
    public mutating func shutdown(reason: String = "server shutting down", now: UInt64) -> [ReconcilerAction] {
        for connection in connections.keys.sorted() {
            if connections[connection]?.session != nil { send(.bye(reason: reason), on: connection, now: now) }
            close(connection, reason: reason, now: now)
        }
        return takeActions()
    }

    // MARK: Queries

    /// The session live on `connection`, once its handshake completed.
    public func session(on connection: ConnectionID) -> SessionID? {
        connections[connection]?.session.flatMap { sessions[$0]?.id }
    }

    /// The sessions of `principal`, attached or waiting for a resume.
    public func sessions(of principal: String) -> [SessionID] {
        (sessionsByPrincipal[principal] ?? []).compactMap { sessions[$0]?.id }.sorted { $0.rawValue < $1.rawValue }
    }

    /// Whether `session` is held here (attached or resumable).
    public func holds(_ session: SessionID) -> Bool { sessionKeys[session] != nil }

    /// Sessions alive (attached or resumable).
    public var sessionCount: Int { sessions.count }

    /// Sessions with a live connection (a pass over the sessions).
    public var attachedSessionCount: Int { sessions.values.reduce(0) { $0 + ($1.connection == nil ? 0 : 1) } }

    /// Events retained for confirmation in every session (queued, in flight, or waiting for display or value).
    public var retainedEventCount: Int { sessions.values.reduce(0) { $0 + $1.events.count } }

    // MARK: Dispatch

    mutating func messageReceived(_ message: Message, on connection: ConnectionID, now: UInt64) {
        guard let key = connections[connection]?.session else {
            if connections[connection]?.loading != nil {
                // The client waits for `welcome`; its session is being loaded. Nothing else is expected.
                let error = EventAckError(
                    code: .handshakeRequired, message: "\(message.type.rawValue) before welcome", path: "$.type")
                rejectFrame(error, on: connection, fatal: false, now: now)
            } else if case .hello(let hello) = message {
                helloReceived(hello, on: connection, now: now)
            } else {
                // EA-HS-1: nothing but hello before the handshake.
                let error = EventAckError(
                    code: .handshakeRequired, message: "\(message.type.rawValue) before hello", path: "$.type")
                rejectFrame(error, on: connection, fatal: true, now: now)
            }
            return
        }
        switch message {
        case .ack, .nack:
            var session = sessions.removeValue(forKey: key)!
            confirmationsReceived(message, session: &session, on: connection, now: now)
            sessions[key] = consume session
        case .ping(let id):
            send(.pong(id: id), on: connection, now: now)
        case .pong:
            break
        case .bye(let reason):
            close(connection, reason: "client said bye" + (reason.map { ": \($0)" } ?? ""), now: now)
        case .error(let error):
            pendingActions.append(.report(.clientError(connection, session: sessions[key]?.id, error)))
            if error.fatal { close(connection, reason: "client error \(error.code)", now: now) }
        case .hello, .welcome, .event, .synced, .progress:
            let error = EventAckError(
                code: .invalidMessage, message: "a server does not accept \(message.type.rawValue) here",
                path: "$.type")
            rejectFrame(error, on: connection, fatal: false, now: now)
        }
    }

    // MARK: Helpers shared by the extensions

    /// Ends an input: tidies the timers and hands over its actions. Every session is back in the table here.
    mutating func takeActions() -> [ReconcilerAction] {
        finishTimers()
        defer { pendingActions = [] }
        guard !pendingRecords.isEmpty else { return pendingActions }
        // Write-ahead: the records first, so that nothing they back reaches a peer before they are durable.
        defer { pendingRecords = [] }
        return [.persist(pendingRecords)] + pendingActions
    }

    mutating func send(_ message: Message, on connection: ConnectionID, now: UInt64) {
        connections[connection]?.lastSentAt = now
        pendingActions.append(.send(message, to: connection))
    }

    /// Answers an invalid frame with an `error` (and closes the connection when `fatal`).
    mutating func rejectFrame(
        _ error: EventAckError,
        on connection: ConnectionID,
        fatal: Bool,
        session sessionID: SessionID? = nil,
        now: UInt64
    ) {
        send(.error(ErrorMessage(error, fatal: fatal)), on: connection, now: now)
        let session = sessionID ?? connections[connection]?.session.flatMap { sessions[$0]?.id }
        pendingActions.append(.report(.protocolError(connection, session: session, error: error, fatal: fatal)))
        if fatal { close(connection, reason: error.code.rawValue, now: now) }
    }

    /// Closes a connection from this side.
    mutating func close(_ connection: ConnectionID, reason: String, now: UInt64) {
        guard connections[connection] != nil else { return }
        pendingActions.append(.close(connection, reason: reason))
        forget(connection, reason: reason, now: now)
    }

    /// Drops a connection; its session (if still attached to it) waits for a resume.
    mutating func forget(_ connection: ConnectionID, reason: String, now: UInt64) {
        guard let state = connections.removeValue(forKey: connection) else { return }
        guard let key = state.session, sessions[key]?.connection == connection else { return }
        var session = sessions.removeValue(forKey: key)!
        session.attachment = .detached(since: now)
        pendingActions.append(.report(.sessionDetached(session.id, principal: session.principal, reason: reason)))
        scheduleSessionTimer(&session, now: now)
        sessions[key] = consume session
    }

    static func checkIdentifier(_ value: String, _ name: String) throws(ReconcilerError) {
        let length = value.utf8.count
        guard length >= 1, length <= ProtocolLimits.maxIdentifierBytes else {
            throw .invalidArgument("\(name) must be 1…\(ProtocolLimits.maxIdentifierBytes) UTF-8 bytes, not \(length)")
        }
    }
}
