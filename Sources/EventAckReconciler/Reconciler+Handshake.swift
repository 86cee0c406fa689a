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
        let principal = connections[connection]!.principal
        let window = max(1, min(configuration.window, hello.window ?? configuration.window))
        guard let resume = hello.resume else {
            openSession(on: connection, principal: principal, version: version, window: window, now: now)
            return
        }
        let requested = SessionID(resume.session)
        switch resumeCheck(resume, principal: principal) {
        case .success(let key):
            resumeSession(
                key, on: connection, presentedToken: resume.token, receipt: resume.receipt, version: version,
                window: window, now: now)
        case .failure(let refusal):
            // EA-RES-2: a non-fatal error, then a fresh session. The reason never includes the token.
            let error = EventAckError(code: .resumeRejected, message: refusal.message)
            send(.error(ErrorMessage(error, fatal: false)), on: connection, now: now)
            pendingActions.append(
                .report(.resumeRejected(requested: requested, principal: principal, reason: refusal.message)))
            openSession(on: connection, principal: principal, version: version, window: window, now: now)
        }
    }

    /// Why a resume was refused.
    struct ResumeRefusal: Error {
        var message: String
    }

    /// EA-RES-2: the session exists and has not expired, belongs to the same principal, and the token matches.
    func resumeCheck(_ resume: ResumeRequest, principal: String) -> Result<UInt64, ResumeRefusal> {
        guard let key = sessionKeys[SessionID(resume.session)], let session = sessions[key] else {
            return .failure(ResumeRefusal(message: "session \(resume.session) is unknown or expired"))
        }
        // Both checks run before deciding, so that timing says nothing about which failed.
        let samePrincipal = session.principal == principal
        let currentMatches = Self.constantTimeEqual(session.token, resume.token)
        let previousMatches = session.previousToken.map { Self.constantTimeEqual($0, resume.token) } ?? false
        let tokenMatches = currentMatches || previousMatches
        guard samePrincipal else {
            return .failure(ResumeRefusal(message: "session \(resume.session) belongs to another principal"))
        }
        guard tokenMatches else {
            return .failure(ResumeRefusal(message: "the resume token of session \(resume.session) does not match"))
        }
        return .success(key)
    }

    private mutating func openSession(
        on connection: ConnectionID,
        principal: String,
        version: ProtocolVersion,
        window: UInt64,
        now: UInt64
    ) {
        var id = SessionID("s_" + Self.hex(random.next()))
        while sessionKeys[id] != nil { id = SessionID("s_" + Self.hex(random.next())) }
        let key = nextSessionKey
        nextSessionKey += 1
        let token = freshToken()
        sessions[key] = SessionState(
            key: key, id: id, principal: principal, token: token, connection: connection, window: window, now: now)
        sessionKeys[id] = key
        connections[connection]!.session = key
        send(
            .welcome(welcome(session: id, token: token, resumed: false, version: version, window: window)),
            on: connection, now: now)
        pendingActions.append(.report(.sessionOpened(id, principal: principal, connection: connection, resumed: false)))
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
        var session = sessions.removeValue(forKey: key)!
        let token = freshToken()
        session.token = token
        // The client surely holds the token it presented; it holds the new one only once it acts on the welcome.
        session.previousToken = presentedToken
        session.attachment = .attached(connection)
        session.window = window
        connections[connection]!.session = key
        send(
            .welcome(welcome(session: session.id, token: token, resumed: true, version: version, window: window)),
            on: connection, now: now)
        pendingActions.append(
            .report(.sessionOpened(session.id, principal: session.principal, connection: connection, resumed: true)))
        if let unknown = receipt.highest, unknown > session.highestSent {
            let error = EventAckError(
                code: .ackUnknownSeq, message: "resume receipt names seq \(unknown), never sent to this session",
                path: "$.resume.receipt", seq: unknown)
            rejectFrame(error, on: connection, fatal: false, session: session.id, now: now)
        } else {
            applyConfirmations(receipt, at: .receipt, session: &session, now: now)
        }
        sendSynced(&session, includeAll: true, now: now)
        replayUnacknowledged(&session, now: now)
        pump(&session, now: now)
        scheduleSessionTimer(&session, now: now)
        sessions[key] = session
        scheduleConnectionTimer(connection, now: now)
    }

    private func welcome(
        session: SessionID,
        token: String,
        resumed: Bool,
        version: ProtocolVersion,
        window: UInt64
    ) -> Welcome {
        Welcome(
            version: version, session: session.rawValue, token: token, resumed: resumed,
            heartbeatMs: configuration.heartbeatMs, ackDelayMs: configuration.ackDelayMs, window: window,
            maxFrameBytes: UInt64(configuration.maxFrameBytes))
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
