import EventAckProtocol

extension SessionMachine {
    // MARK: Detach and resume

    /// The session's connection ended: the session waits for a resume until the resume window passes (EA-RES-5).
    mutating func detach(reason: String, now: UInt64, context: inout SessionContext) {
        attachment = .detached(since: now)
        context.report(.sessionDetached(id, principal: principal, reason: reason))
        scheduleTimer(now: now, context: &context)
    }

    /// EA-RES-3: the session moves to `connection` with a new token: `welcome`, the client's receipt set applied,
    /// `synced`, everything sent and unacknowledged replayed in seq order, then the window continues. The
    /// reconciler checked the resume (EA-RES-2) and closed the previous connection.
    mutating func resume(
        on connection: ConnectionID,
        presentedToken: String,
        newToken: String,
        receipt: AckSet,
        version: ProtocolVersion,
        window: UInt64,
        now: UInt64,
        context: inout SessionContext
    ) {
        // The client surely holds the token it presented; it holds the new one only once it acts on the welcome.
        // A token presented again during its grace keeps its original end: replaying an old token cannot keep it
        // alive.
        if let previous = previousToken, Reconciler.constantTimeEqual(previous.token, presentedToken) {
            previousToken = previous
        } else {
            previousToken = (presentedToken, now + context.configuration.resumeTokenGraceMs)
        }
        token = newToken
        context.record(
            id,
            .resumed(
                token: newToken, previousToken: previousToken?.token,
                previousValidUntil: previousToken?.validUntil ?? 0,
                version: version, window: window, at: now))
        attachment = .attached(connection)
        self.window = window
        self.version = version
        context.send(
            .welcome(
                context.configuration.welcome(
                    session: id, token: newToken, resumed: true, version: version, window: window)),
            on: connection, now: now)
        context.report(.sessionOpened(id, principal: principal, connection: connection, resumed: true))
        takeAsSent(namedIn: receipt, now: now)
        if let unknown = receipt.highest, unknown > highestSent {
            let error = EventAckError(
                code: .ackUnknownSeq, message: "resume receipt names seq \(unknown), never sent to this session",
                path: "$.resume.receipt", seq: unknown)
            context.reject(error, on: connection, session: id, now: now)
        } else {
            if !receipt.isEmpty { context.record(id, .confirmed(level: .receipt, seqs: receipt, at: now)) }
            applyConfirmations(receipt, at: .receipt, now: now, context: &context)
        }
        sendSynced(includeAll: true, now: now, context: &context)
        replayUnacknowledged(now: now, context: &context)
        pump(now: now, context: &context)
        scheduleTimer(now: now, context: &context)
    }

    /// A recovered session took its unconfirmed events as never sent (EA-DUR-3); the node that crashed may have
    /// sent some. The client's first resume receipt names those it has: they were sent, and its receipt confirms
    /// them now instead of answering `ack_unknown_seq` and sending them again (found by cluster.sh: a node killed
    /// right after sending an event whose ack it never got).
    private mutating func takeAsSent(namedIn receipt: AckSet, now: UInt64) {
        guard let maybeSent else { return }
        self.maybeSent = nil
        guard let highest = receipt.highest, maybeSent.contains(highest) else { return }
        while sendCursor <= highest {
            let seq = markNextSent(now: now)
            events[seq].attempt = 1
        }
    }

    // MARK: Recovery

    /// Rebuilds a session from its records (the first must be `opened`) through the same rules that wrote them,
    /// with their own times and without actions or records: the session as it stood, detached since `now`.
    /// Events sent but not receipt-confirmed are taken as in flight (a resume replays them); events above the
    /// highest confirmed or failed seq as never sent (the window sends them, EA-DUR-3). `nil` when the records
    /// do not open a session.
    init?(restoring records: [SessionRecord], key: UInt64, now: UInt64, context: inout SessionContext) {
        guard case .opened(let principal, let token, let version, let window, let openedAt)? = records.first?.change
        else { return nil }
        let id = records[0].session
        self.init(
            key: key, id: id, principal: principal, token: token, connection: ConnectionID(rawValue: 0),
            window: window, version: version, now: openedAt)
        attachment = .detached(since: now)
        // Replaying applies the rules, which say things; none of it is said again.
        let actionsBefore = context.actions
        context.isRestoring = true
        defer {
            context.actions = actionsBefore
            context.isRestoring = false
        }
        for record in records.dropFirst() where record.session == id {
            replay(record.change, context: &context)
        }
        // Sent is known only up to the highest seq the client confirmed or that failed; what follows goes back to
        // the queue, so that the window holds.
        let highest =
            [confirmedReceipt.highest, confirmedDisplay.highest, confirmedValue.highest, resolved.highest]
            .compactMap { $0 }.max() ?? 0
        let cursor = min(max(highest + 1, events.firstSeq), nextSeq)
        var seq = cursor
        while seq < nextSeq {
            if events[seq].stage == .inFlight {
                events[seq].stage = .queued
                events[seq].attempt = 0
                inFlight -= 1
            }
            seq += 1
        }
        sendCursor = cursor
        maybeSent = cursor < nextSeq ? cursor..<nextSeq : nil
    }

    private mutating func replay(_ change: SessionRecord.Change, context: inout SessionContext) {
        switch change {
        case .resumed(let token, let previousToken, let previousValidUntil, let version, let window, _):
            self.token = token
            self.previousToken = previousToken.map { ($0, previousValidUntil) }
            self.version = version
            self.window = window
        case .emitted(let seq, let run, let kind, let ts, let confirm, let endsRun, let payload, let origin):
            guard seq == nextSeq else { return }
            nextSeq += 1
            let runIndex = runIndex(for: run)
            if endsRun { runs[Int(runIndex)]!.endedByEmitter = true }
            _ = runs[Int(runIndex)]!.observe(
                kind: kind, seq: seq, at: ts, payload: payload, origin: origin,
                profile: context.configuration.profile(named: runs[Int(runIndex)]!.profileName))
            var retained = RetainedEvent(
                payload: payload, kind: kind, emittedAt: ts, runIndex: runIndex, confirm: confirm)
            retained.endsRun = endsRun
            // Taken as sent once until the end of the replay says otherwise.
            retained.stage = .inFlight
            retained.attempt = 1
            events.append(retained)
            sendCursor = nextSeq
            inFlight += 1
            countEmitted(confirm, run: runIndex, context: &context)
        case .confirmed(let level, let seqs, let at):
            applyConfirmations(seqs, at: level, now: at, context: &context)
        case .failed(let seq, let reason, let at):
            fail(seq, reason: reason, now: at, context: &context)
        case .runRequested(let run, let at, let idleTimeoutMs, let reportsConfirmations, let profile):
            guard !hasEnded(run) else { return }
            let index = runIndex(for: run, requestedAt: at)
            if runs[Int(index)]!.requestedAt == nil { runs[Int(index)]!.requestedAt = at }
            runs[Int(index)]!.lastHeardAt = max(runs[Int(index)]!.lastHeardAt ?? at, at)
            if let idleTimeoutMs { runs[Int(index)]!.idleTimeoutMs = idleTimeoutMs }
            if reportsConfirmations { runs[Int(index)]!.reportsConfirmations = true }
            if let profile { runs[Int(index)]!.profileName = profile }
        case .opened, .runFinished, .ended:
            break
        }
    }
}
