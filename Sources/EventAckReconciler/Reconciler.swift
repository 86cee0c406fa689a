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
/// The reconciler routes: it owns the connections, the sessions table, the one timer heap and the report book
/// (in its `SessionContext`), and hands each input to the `SessionMachine` it concerns, where a session's rules
/// live. Its own rules live in extensions: the handshake and resume (`+Handshake`), emitting (`+Events`), timers
/// and liveness (`+Timers`), the store (`+Persistence`). The report is built by ``report(now:principal:limit:)``
/// from the report book the inputs keep up to date.
public struct Reconciler: Sendable {
    typealias ConnectionState = SessionContext.Connection

    /// The configuration in force.
    public var configuration: ReconcilerConfiguration { context.configuration }
    let codec: MessageCodec
    var random: any RandomNumberGenerator & Sendable
    var sessions: [UInt64: SessionMachine] = [:]
    var sessionKeys: [SessionID: UInt64] = [:]
    /// Each principal's sessions, for ``ReconcilerConfiguration/maxSessionsPerPrincipal``.
    var sessionsByPrincipal: [String: Set<UInt64>] = [:]
    var nextConnectionNumber: UInt64 = 1
    var nextSessionKey: UInt64 = 1
    /// Connections, timers, the report book and the input's actions: what sessions reach outside themselves.
    var context: SessionContext
    /// Whether sessions are written ahead to a store (``ReconcilerAction/persist(_:)``) and loaded from it.
    public var writesAhead: Bool { context.writesAhead }

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
        let configuration = configuration.normalized()
        self.codec = MessageCodec(maxFrameBytes: configuration.maxFrameBytes)
        var random = random
        self.context = SessionContext(
            configuration: configuration, jitter: SplitMix64(seed: random.next()), writesAhead: writesAhead)
        self.random = random
    }

    // MARK: Inputs

    /// A connection was opened and the host authenticated it as `principal` (EA-HS-3). The client must send
    /// `hello` next; a connection without a completed handshake after ``ReconcilerConfiguration/handshakeTimeoutMs``
    /// is closed, whatever it sent meanwhile (EA-HS-5).
    public mutating func open(principal: String, now: UInt64) -> ConnectionID {
        let id = ConnectionID(rawValue: nextConnectionNumber)
        nextConnectionNumber += 1
        context.connections[id] = ConnectionState(
            principal: principal, openedAt: now, lastReceivedAt: now, lastSentAt: now)
        scheduleConnectionTimer(id, now: now)
        return id
    }

    /// A text frame arrived on `connection`. Frames that fail validation are answered with an `error` carrying the
    /// spec's code and change nothing else (EA-MSG-11).
    public mutating func frameReceived(_ text: String, on connection: ConnectionID, now: UInt64) -> [ReconcilerAction] {
        guard noteFrame(on: connection, now: now) else { return [] }
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
        guard noteFrame(on: connection, now: now) else { return [] }
        let error = EventAckError(code: .malformedJSON, message: "binary frames are not EventAck messages", path: "$")
        rejectFrame(error, on: connection, fatal: false, now: now)
        return takeActions()
    }

    /// A text message of `byteCount` bytes arrived and was discarded unread by the transport because it exceeds
    /// ``ReconcilerConfiguration/maxFrameBytes``: answered with a non-fatal `frame_too_large` (EA-MSG-8).
    public mutating func oversizedFrameReceived(
        byteCount: Int, on connection: ConnectionID, now: UInt64
    ) -> [ReconcilerAction] {
        guard noteFrame(on: connection, now: now) else { return [] }
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
        guard noteFrame(on: connection, now: now) else { return [] }
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
    /// - Parameters:
    ///   - run: the run's id.
    ///   - session: the session it goes to.
    ///   - requestedAt: when the run was requested, if before `now` (a time after `now` counts as `now`).
    ///   - reportingConfirmations: report each of the run's events confirmed at its level
    ///     (``ReconciliationEvent/confirmed(_:level:latencyMs:)``) even when the configuration does not.
    ///   - idleTimeoutMs: the run's own idle timeout (EA-RUN-2), instead of the configuration's.
    ///   - profile: the name of the profile the run is validated against (one of the configuration's
    ///     `runProfiles`), instead of its `runProfile`; taken only before the run's first event.
    ///   - now: the time.
    ///
    /// - Returns: with ``writesAhead``, the record of the request to persist; nothing else.
    /// - Throws: `unknown_session`, `invalid_argument` (a bad run id, a profile the configuration does not have),
    ///   or `run_ended` when `run` already ended in the session (EA-RUN-1).
    @discardableResult
    public mutating func runRequested(
        _ run: String, in session: SessionID, at requestedAt: UInt64? = nil, reportingConfirmations: Bool = false,
        idleTimeoutMs: UInt64? = nil, profile: String? = nil, now: UInt64
    ) throws(ReconcilerError) -> [ReconcilerAction] {
        try Self.checkIdentifier(run, "run")
        if let profile, configuration.runProfiles[profile] == nil {
            throw .invalidArgument("no run profile named \(DisplayText.escaping(profile))")
        }
        guard let key = sessionKeys[session] else { throw .unknownSession(session) }
        try modifying(key) { session, context throws(ReconcilerError) in
            try session.runRequested(
                run, at: min(requestedAt ?? now, now), reportingConfirmations: reportingConfirmations,
                idleTimeoutMs: idleTimeoutMs, profile: profile, now: now, context: &context)
        }
        return takeActions()
    }

    /// The producer of `run` in `session` tried to emit and was refused for a reason of the server's (its store is
    /// unavailable): it is alive, so the run's idle timeout starts again (EA-RUN-2). Nothing is sent or recorded.
    public mutating func producerAlive(run: String, in session: SessionID, now: UInt64) {
        guard let key = sessionKeys[session] else { return }
        try? sessions[key]!.heard(from: run, now: now)
    }

    /// Says the run is alive without producing an event (EA-LIVE-1, EA-LIVE-2): call it every few seconds while an
    /// agent works silently; it restarts the run's idle timeout (EA-RUN-2). Not retained: a disconnected session gets
    /// none. Throws `run_ended` for a run that has ended in the session.
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
        guard let key = sessionKeys[session] else { throw .unknownSession(session) }
        try sessions[key]!.heard(from: run, now: now)
        guard let connection = sessions[key]!.connection else { return [] }
        context.send(.progress(Progress(run: run, ts: now, note: note)), on: connection, now: now)
        return takeActions()
    }

    /// Says `bye` to every connection and closes it. Sessions stay (detached) so that ``report(now:principal:limit:)`` lists what
    /// is still unconfirmed.
    public mutating func shutdown(reason: String = "server shutting down", now: UInt64) -> [ReconcilerAction] {
        for connection in context.connections.keys.sorted() {
            if context.connections[connection]?.session != nil {
                context.send(.bye(reason: reason), on: connection, now: now)
            }
            close(connection, reason: reason, now: now)
        }
        return takeActions()
    }

    // MARK: Queries

    /// The session live on `connection`, once its handshake completed.
    public func session(on connection: ConnectionID) -> SessionID? {
        context.connections[connection]?.session.flatMap { sessions[$0]?.id }
    }

    /// The connection `session` is attached to, if any.
    public func connection(of session: SessionID) -> ConnectionID? {
        sessionKeys[session].flatMap { sessions[$0]?.connection }
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
        guard let key = context.connections[connection]?.session else {
            if context.connections[connection]?.loading != nil {
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
            modifying(key) { session, context in
                session.confirmationsReceived(message, on: connection, now: now, context: &context)
            }
        case .ping(let id):
            context.send(.pong(id: id), on: connection, now: now)
        case .pong:
            break
        case .bye(let reason):
            close(connection, reason: "client said bye" + (reason.map { ": \($0)" } ?? ""), now: now)
        case .error(let error):
            context.report(.clientError(connection, session: sessions[key]?.id, error))
            if error.fatal { close(connection, reason: "client error \(error.code)", now: now) }
        case .hello, .welcome, .event, .synced, .progress:
            let error = EventAckError(
                code: .invalidMessage, message: "a server does not accept \(message.type.rawValue) here",
                path: "$.type")
            rejectFrame(error, on: connection, fatal: false, now: now)
        }
    }

    // MARK: Helpers shared by the extensions

    /// A frame arrived on `connection`: notes when, for liveness (EA-LIVE-4). `false` when the connection is not
    /// (or no longer) open, and the frame is ignored.
    mutating func noteFrame(on connection: ConnectionID, now: UInt64) -> Bool {
        (context.connections[connection]?.lastReceivedAt = now) != nil
    }

    /// Ends an input: tidies the timers and hands over its actions, records first. Every session is back in the
    /// table here.
    mutating func takeActions() -> [ReconcilerAction] {
        finishTimers()
        return context.takeActions()
    }

    /// Runs `body` on the session of `key` with the context lent to it, in place: one hash lookup, and no copy of
    /// the session (the postgres-nio `.modifying` idea).
    mutating func modifying<Result, Failure: Error>(
        _ key: UInt64,
        _ body: (inout SessionMachine, inout SessionContext) throws(Failure) -> Result
    ) throws(Failure) -> Result {
        let index = sessions.index(forKey: key)!
        return try body(&sessions.values[index], &context)
    }

    /// Answers an invalid frame with an `error` (and closes the connection when `fatal`).
    mutating func rejectFrame(_ error: EventAckError, on connection: ConnectionID, fatal: Bool, now: UInt64) {
        let session = context.connections[connection]?.session.flatMap { sessions[$0]?.id }
        context.reject(error, on: connection, session: session, fatal: fatal, now: now)
        if fatal { close(connection, reason: error.code.rawValue, now: now) }
    }

    /// Closes a connection from this side.
    mutating func close(_ connection: ConnectionID, reason: String, now: UInt64) {
        guard context.connections[connection] != nil else { return }
        context.actions.append(.close(connection, reason: reason))
        forget(connection, reason: reason, now: now)
    }

    /// Drops a connection; its session (if still attached to it) waits for a resume.
    mutating func forget(_ connection: ConnectionID, reason: String, now: UInt64) {
        guard let state = context.connections.removeValue(forKey: connection) else { return }
        guard let key = state.session, sessions[key]?.connection == connection else { return }
        modifying(key) { session, context in session.detach(reason: reason, now: now, context: &context) }
    }

    static func checkIdentifier(_ value: String, _ name: String) throws(ReconcilerError) {
        let length = value.utf8.count
        guard length >= 1, length <= ProtocolLimits.maxIdentifierBytes else {
            throw .invalidArgument("\(name) must be 1…\(ProtocolLimits.maxIdentifierBytes) UTF-8 bytes, not \(length)")
        }
    }
}
