import EventAckProtocol

extension Reconciler {
    /// `hello` on a connection without a session: negotiate, then resume or open a session (EA-HS-2, § 5).
    mutating func helloReceived(_ hello: Hello, on connection: ConnectionID, now: UInt64) {
        let version: ProtocolVersion
        do {
            version = try ProtocolVersion.negotiate(offered: hello.versions, supported: configuration.versions)
        } catch {
            rejectFrame(error, on: connection, fatal: true, now: now)
            return
        }
        let principal = context.connections[connection]!.principal
        let window = max(1, min(configuration.window, hello.window ?? configuration.window))
        guard let resume = hello.resume else {
            openSession(on: connection, principal: principal, version: version, window: window, now: now)
            return
        }
        let requested = SessionID(resume.session)
        switch resumeCheck(resume, principal: principal, now: now) {
        case .success(let key):
            resumeSession(
                key, on: connection, presentedToken: resume.token, receipt: resume.receipt, version: version,
                window: window, now: now)
        case .failure(let refusal) where shouldLoad(after: refusal, on: connection):
            // The store may know the session, or a newer copy of it: ask, and answer this hello when it replies.
            context.connections[connection]!.loading = hello
            context.actions.append(.load(requested))
        case .failure(let refusal):
            // EA-RES-2, EA-ISO-4: a non-fatal error, then a fresh session. The wire says the same whatever the
            // cause, so that nobody learns whether a session id exists; the host's report says which it was. The
            // reason never includes the token.
            let error = EventAckError(code: .resumeRejected, message: Self.resumeRefusalMessage)
            context.send(.error(ErrorMessage(error, fatal: false)), on: connection, now: now)
            context.report(.resumeRejected(requested: requested, principal: principal, reason: refusal.rawValue))
            openSession(on: connection, principal: principal, version: version, window: window, now: now)
        }
    }

    /// The one message of every refused resume (EA-ISO-4).
    static let resumeRefusalMessage = "the session cannot be resumed; a new session follows"

    /// Why a resume was refused: for the host's report only, never for the peer.
    enum ResumeRefusal: String, Error {
        case unknownSession = "unknown or expired session"
        case otherPrincipal = "the session belongs to another principal"
        case tokenMismatch = "the resume token does not match"
    }

    /// EA-RES-2: the session exists and has not expired, belongs to the same principal, and the token matches —
    /// the current one, or the one the client last resumed with during its grace (EA-RES-3).
    func resumeCheck(_ resume: ResumeRequest, principal: String, now: UInt64) -> Result<UInt64, ResumeRefusal> {
        guard let key = sessionKeys[SessionID(resume.session)], let session = sessions[key] else {
            return .failure(.unknownSession)
        }
        // Every check runs before deciding, so that timing says nothing about which failed.
        let samePrincipal = session.principal == principal
        let currentMatches = Self.constantTimeEqual(session.token, resume.token)
        let previousMatches =
            session.previousToken.map { Self.constantTimeEqual($0.token, resume.token) && now < $0.validUntil }
            ?? false
        guard samePrincipal else { return .failure(.otherPrincipal) }
        guard currentMatches || previousMatches else { return .failure(.tokenMismatch) }
        return .success(key)
    }

    private mutating func openSession(
        on connection: ConnectionID,
        principal: String,
        version: ProtocolVersion,
        window: UInt64,
        now: UInt64
    ) {
        guard makeRoomForSession(of: principal, now: now) else {
            let error = EventAckError(
                code: .sessionLimit,
                message: "at most \(configuration.maxSessionsPerPrincipal) sessions per user, all attached")
            rejectFrame(error, on: connection, fatal: true, now: now)
            return
        }
        var id = SessionID("s_" + Self.hex(random.next()))
        while sessionKeys[id] != nil { id = SessionID("s_" + Self.hex(random.next())) }
        let key = nextSessionKey
        nextSessionKey += 1
        let token = freshToken()
        sessions[key] = SessionMachine(
            key: key, id: id, principal: principal, token: token, connection: connection, window: window,
            version: version, now: now)
        sessionKeys[id] = key
        sessionsByPrincipal[principal, default: []].insert(key)
        context.connections[connection]!.session = key
        context.record(id, .opened(principal: principal, token: token, version: version, window: window, at: now))
        context.send(
            .welcome(
                configuration.welcome(session: id, token: token, resumed: false, version: version, window: window)),
            on: connection, now: now)
        context.report(.sessionOpened(id, principal: principal, connection: connection, resumed: false))
        scheduleConnectionTimer(connection, now: now)
    }

    /// EA-RES-3: welcome with a new token, apply the client's receipt set, `synced`, replay what is unacknowledged
    /// in seq order, then continue.
    private mutating func resumeSession(
        _ key: UInt64,
        on connection: ConnectionID,
        presentedToken: String,
        receipt: AckSet,
        version: ProtocolVersion,
        window: UInt64,
        now: UInt64
    ) {
        if let previous = sessions[key]!.connection {
            // The old connection has not noticed it is dead yet; the client has moved on.
            close(previous, reason: "session resumed on another connection", now: now)
        }
        let token = freshToken()
        context.connections[connection]!.session = key
        modifying(key) { session, context in
            session.resume(
                on: connection, presentedToken: presentedToken, newToken: token, receipt: receipt, version: version,
                window: window, now: now, context: &context)
        }
        scheduleConnectionTimer(connection, now: now)
    }

    /// EA-ISO-6: below the cap, or the principal's oldest detached session expired early to make room.
    private mutating func makeRoomForSession(of principal: String, now: UInt64) -> Bool {
        let keys = sessionsByPrincipal[principal] ?? []
        guard keys.count >= configuration.maxSessionsPerPrincipal else { return true }
        let oldestDetached = keys.compactMap { key -> (since: UInt64, key: UInt64)? in
            guard case .detached(let since) = sessions[key]?.attachment else { return nil }
            return (since, key)
        }.min { ($0.since, $0.key) < ($1.since, $1.key) }
        guard let oldestDetached else { return false }
        modifying(oldestDetached.key) { session, context in session.expire(now: now, context: &context) }
        removeSession(oldestDetached.key)
        return true
    }

    /// A resume token: 128 random bits (EA-ISO-2).
    private mutating func freshToken() -> String {
        "t_" + Self.hex(random.next()) + Self.hex(random.next())
    }

    static func hex(_ value: UInt64) -> String {
        let digits = String(value, radix: 16)
        return String(repeating: "0", count: 16 - digits.count) + digits
    }

    /// Compares without an early exit, so that the time taken says nothing about where the strings differ.
    static func constantTimeEqual(_ lhs: String, _ rhs: String) -> Bool {
        let left = Array(lhs.utf8)
        let right = Array(rhs.utf8)
        var difference = UInt64(left.count ^ right.count)
        for index in 0..<max(left.count, right.count) {
            let a = index < left.count ? left[index] : 0
            let b = index < right.count ? right[index] : 0
            difference |= UInt64(a ^ b)
        }
        return difference == 0
    }
}

extension ReconcilerConfiguration {
    /// The `welcome` of a session opened or resumed under this configuration.
    func welcome(session: SessionID, token: String, resumed: Bool, version: ProtocolVersion, window: UInt64) -> Welcome
    {
        Welcome(
            version: version, session: session.rawValue, token: token, resumed: resumed, heartbeatMs: heartbeatMs,
            ackDelayMs: ackDelayMs, window: window, maxFrameBytes: UInt64(maxFrameBytes))
    }
}
