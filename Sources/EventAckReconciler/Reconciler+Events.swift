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
    ///   (EA-FLOW-2; the event is not accepted, nothing is dropped silently); `run_ended` when `run` already ended in
    ///   the session — its terminal event was emitted — since a run id names one run (EA-RUN-1; counted in
    ///   ``ConfirmationStats/refusedEmits``); `invalid_argument` for identifiers out of limits.
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
        let seq = try modifying(key) { session, context throws(ReconcilerError) in
            try session.emit(
                run: run, kind: kind, payload: payload, confirm: confirm, endsRun: endsRun, origin: origin, now: now,
                context: &context)
        }
        return Emission(seq: seq, actions: takeActions())
    }

    /// Throws what ``emit(run:kind:payload:confirm:endsRun:to:origin:now:)`` would for `run` in `sessionID` — the
    /// session unknown, the run ended there, no room — without emitting: a fan-out checks every session first.
    public func checkAdmits(run: String, to sessionID: SessionID) throws(ReconcilerError) {
        try Self.checkIdentifier(run, "run")
        guard let key = sessionKeys[sessionID], let session = sessions[key] else { throw .unknownSession(sessionID) }
        try session.checkAdmits(run: run, configuration: configuration)
    }
}
