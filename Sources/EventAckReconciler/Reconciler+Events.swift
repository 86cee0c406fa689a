import EventAckProtocol

/// The result of ``Reconciler/emit(run:kind:payload:confirm:endsRun:to:origin:now:)``.
public struct Emission: Sendable, Hashable {
    /// The seq given to the event.
    public var seq: Seq
    /// What to do now (send the event if the window allows, report SLO breaches).
    public var actions: [ReconcilerAction]
}

extension Reconciler {
    /// Emits an event of `run` to `session`: gives it the next seq (EA-EVT-1), validates it against the run
    /// profile, retains it until it is confirmed at `confirm` or fails, and sends it when the window allows. A
    /// session without a connection keeps it for its resume.
    ///
    /// - Parameters:
    ///   - run: the run's id (an identifier, EA-MSG-6).
    ///   - kind: what happened (an identifier).
    ///   - payload: the event's content.
    ///   - confirm: the highest level the event needs.
    ///   - endsRun: whether this is the run's last event; by default, whether `kind` is one of the run profile's
    ///     terminal kinds. Sent to 1.1 clients as `endsRun` (EA-EVT-7) so that they end the run's idle timer
    ///     without knowing the profile.
    ///   - sessionID: the session to emit to.
    ///   - origin: for a reconciler that ``writesAhead``: the id of the stored request this event answers (an agent
    ///     on another node emitting through the store), retired by the store with the event's record, atomically.
    ///   - now: the current time, also the event's `ts`.
    /// - Throws: ``ReconcilerError`` `unknown_session`; `window_exceeded` when the window and the queue are full
    ///   (EA-FLOW-2; the event is not accepted, nothing is dropped silently); `invalid_argument` for identifiers
    ///   out of limits.
    public mutating func emit(
        run: String,
        kind: String,
        payload: Payload = .empty,
        confirm: ConfirmationLevel = .receipt,
        endsRun: Bool? = nil,
        to sessionID: SessionID,
        origin: String? = nil,
        now: UInt64
    ) throws(ReconcilerError) -> Emission {
        try Self.checkIdentifier(run, "run")
        try Self.checkIdentifier(kind, "kind")
        guard let key = sessionKeys[sessionID] else { throw .unknownSession(sessionID) }
        // The session leaves the table while it is worked on: reads through the table would copy it whole.
        var session = sessions.removeValue(forKey: key)!
        let queued = session.queuedCount
        guard queued < configuration.maxQueuedEvents else {
            sessions[key] = consume session
            throw .windowExceeded(sessionID, queued: queued)
        }
        let seq = session.nextSeq
        session.nextSeq += 1
        let runIndex = session.runIndex(for: run)
        let breaches = session.runs[Int(runIndex)]!.observe(
            kind: kind, seq: seq, at: now, payload: payload, profile: configuration.runProfile)
        var retained = RetainedEvent(payload: payload, kind: kind, emittedAt: now, runIndex: runIndex, confirm: confirm)
        retained.endsRun = endsRun ?? configuration.runProfile?.terminalKinds.contains(kind) ?? false
        session.events.append(retained)
        record(
            sessionID,
            .emitted(
                seq: seq, run: run, kind: kind, ts: now, confirm: confirm, endsRun: retained.endsRun, payload: payload,
                origin: origin))
        count(session: &session, run: runIndex) { stats in
            stats.events += 1
            for level in ConfirmationLevel.allCases where level <= confirm { stats[level].requested += 1 }
        }
        for breach in breaches { pendingActions.append(.report(.sloBreached(run: run, session: sessionID, breach))) }
        pump(&session, now: now)
        sessions[key] = consume session
        return Emission(seq: seq, actions: takeActions())
    }

    /// Sends queued events while the window has room (EA-FLOW-1).
    mutating func pump(_ session: inout SessionState, now: UInt64) {
        guard let connection = session.connection else { return }
        while session.inFlight < session.window, session.sendCursor < session.nextSeq {
            let seq = session.sendCursor
            session.sendCursor += 1
            session.inFlight += 1
            session.events[seq].stage = .inFlight
            transmit(seq, session: &session, on: connection, now: now)
        }
    }

    /// Sends (or resends) an in-flight event with the next attempt number and arms its receipt deadline. Callers
    /// check the attempt limit first (``resendOrFail(_:session:on:now:)``).
    mutating func transmit(_ seq: Seq, session: inout SessionState, on connection: ConnectionID, now: UInt64) {
        let retained = session.events[seq]
        guard let payload = retained.payload, let run = session.runs[Int(retained.runIndex)]?.id else {
            preconditionFailure("an in-flight event keeps its payload and run")
        }
        let attempt = session.events[seq].countAttempt()
        session.events[seq].stageStartedAt = now
        if attempt > 1 { count(session: &session, run: retained.runIndex) { $0.retransmissions += 1 } }
        let event = Event(
            seq: seq, run: run, kind: retained.kind, ts: retained.emittedAt, confirm: retained.confirm,
            attempt: UInt64(attempt), payload: payload,
            endsRun: retained.endsRun && session.version >= ProtocolVersion(major: 1, minor: 1))
        send(.event(event), on: connection, now: now)
        let delay = configuration.retransmission.delayMs(afterAttempt: UInt64(attempt), random: jitter.next())
        setEventDeadline(seq, session: &session, to: now + delay)
    }

    /// Resends an in-flight event, or fails it with `receipt_timeout` if it was sent ``RetransmissionPolicy/maxAttempts``
    /// times already. The one place the attempt limit is enforced, for every kind of resend: timeout, receipt
    /// nack, fast retransmit and resume replay (EA-RTX-4).
    mutating func resendOrFail(_ seq: Seq, session: inout SessionState, on connection: ConnectionID, now: UInt64) {
        if UInt64(session.events[seq].attempt) >= configuration.retransmission.maxAttempts {
            fail(seq, session: &session, reason: .receiptTimeout, now: now)
        } else {
            transmit(seq, session: &session, on: connection, now: now)
        }
    }

    /// After a resume: resend every sent, unacknowledged event in seq order (EA-RES-3). A replay is an attempt like
    /// any other (EA-RTX-4): otherwise resuming over and over would resend an event for ever — and once drove its
    /// 16-bit counter to a trap that took every tenant's state with it.
    mutating func replayUnacknowledged(_ session: inout SessionState, now: UInt64) {
        guard let connection = session.connection else { return }
        // Failing an event pumps queued ones: those are first sends, not replays.
        let end = session.sendCursor
        var seq = session.events.firstSeq
        while seq < end {
            if session.events.contains(seq), session.events[seq].stage == .inFlight {
                resendOrFail(seq, session: &session, on: connection, now: now)
            }
            // Failing the head drops it and the resolved events behind it from the ring.
            seq = max(seq + 1, session.events.firstSeq)
        }
    }

    /// The client confirmed `level` (or a higher one) for `seq`: settle every level up to it that the event asks
    /// for, recording latencies and arming the next level's deadline.
    mutating func reach(_ level: ConfirmationLevel, seq: Seq, session: inout SessionState, now: UInt64) {
        guard session.events.contains(seq) else { return }
        let retained = session.events[seq]
        guard retained.stage != .resolved, retained.stage != .queued else { return }
        let target = min(level, retained.confirm)
        if let reached = retained.reached, target <= reached { return }
        for step in ConfirmationLevel.allCases where step <= target && (retained.reached.map { step > $0 } ?? true) {
            count(session: &session, run: retained.runIndex) { stats in
                stats[step].confirmed += 1
                stats[step].latencyMs.record(now - min(now, retained.emittedAt))
                if step == retained.confirm { stats[step].confirmedAtRequestedLevel += 1 }
            }
        }
        if retained.stage == .inFlight { session.inFlight -= 1 }
        session.events[seq].reached = target
        session.events[seq].payload = nil
        session.events[seq].isOverdue = false
        session.events[seq].stageStartedAt = now
        guard target < retained.confirm else {
            if configuration.reportsEachConfirmation {
                let reference = self.reference(seq, in: session)
                pendingActions.append(
                    .report(.confirmed(reference, level: target, latencyMs: now - min(now, retained.emittedAt))))
            }
            resolve(seq, session: &session, now: now)
            return
        }
        let deadline = target == .receipt ? configuration.displayDeadline : configuration.valueDeadline
        session.events[seq].stage = target == .receipt ? .awaitingDisplay : .awaitingValue
        setEventDeadline(seq, session: &session, to: deadline.map { now + $0.overdueAfterMs } ?? 0)
    }

    /// The event failed at the lowest level it asks for and has not reached; final (EA-NACK-2, § 8).
    mutating func fail(_ seq: Seq, session: inout SessionState, reason: FailureReason, now: UInt64) {
        guard session.events.contains(seq) else { return }
        let retained = session.events[seq]
        guard retained.stage != .resolved else { return }
        let level = retained.reached.flatMap(\.next) ?? .receipt
        count(session: &session, run: retained.runIndex) { stats in
            for step in ConfirmationLevel.allCases where step >= level && step <= retained.confirm {
                stats[step].failed += 1
            }
            stats.countFailures(reason.rawValue)
        }
        if retained.stage == .inFlight { session.inFlight -= 1 }
        session.events[seq].payload = nil
        record(session.id, .failed(seq: seq, reason: reason, at: now))
        let reference = self.reference(seq, in: session)
        session.runs[Int(retained.runIndex)]!.fail(
            RunFailure(code: reason.rawValue, detail: "\(retained.kind) failed at \(level.rawValue)", seq: seq))
        pendingActions.append(.report(.failed(reference, level: level, reason: reason)))
        resolve(seq, session: &session, now: now)
        pump(&session, now: now)
    }

    /// Nothing more is expected of `seq`: release it, tell the client with the next `synced`, and give its run
    /// a verdict if this was the run's last unresolved event.
    private mutating func resolve(_ seq: Seq, session: inout SessionState, now: UInt64) {
        session.events[seq].stage = .resolved
        setEventDeadline(seq, session: &session, to: 0)
        session.resolved.insert(seq)
        for level in ConfirmationLevel.allCases { session.insertUnechoed(seq...seq, at: level) }
        let runIndex = session.events[seq].runIndex
        session.events.dropResolvedPrefix()
        session.runs[Int(runIndex)]!.unresolvedEvents -= 1
        if session.runs[Int(runIndex)]!.isFinished { finishRun(runIndex, session: &session) }
        requestSynced(&session, now: now)
    }

    /// Records the verdict of a run and forgets its tracker.
    mutating func finishRun(_ index: UInt32, session: inout SessionState) {
        guard let tracker = session.runs[Int(index)] else { return }
        let report = tracker.report(session: session.id, principal: session.principal)
        book.runFinished(report, keeping: configuration.retainedRunReports)
        record(session.id, .runFinished(report))
        pendingActions.append(.report(.runFinished(report)))
        session.releaseRun(at: index)
    }

    func reference(_ seq: Seq, in session: SessionState) -> EventReference {
        let retained = session.events[seq]
        return EventReference(
            session: session.id, principal: session.principal, run: session.runs[Int(retained.runIndex)]?.id ?? "",
            seq: seq, kind: retained.kind)
    }

    /// Applies a change to the figures of a run, its session and the total alike.
    mutating func count(session: inout SessionState, run index: UInt32, _ change: (inout ConfirmationStats) -> Void) {
        change(&session.runs[Int(index)]!.stats)
        change(&session.stats)
        change(&book.overall)
    }
}

extension ConfirmationLevel {
    /// The level above this one, if any.
    var next: ConfirmationLevel? {
        switch self {
        case .receipt: .display
        case .display: .value
        case .value: nil
        }
    }
}
