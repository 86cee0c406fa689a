@_spi(Shell) import EventAckProtocol

/// Emitting to several sessions at once (a run fanned out to a user's tabs and devices), one event or a batch.
extension ReconcilerService {
    /// Emits one event to each of `sessions` (a run fanned out to a user's tabs and devices), all or nothing: if any
    /// session cannot take it — unknown, the run ended there, its window and queue full — none gets it and the
    /// error is thrown. Otherwise as ``emit(run:kind:payload:confirm:endsRun:to:origin:)`` for each, every record
    /// carrying `origin`: a batch of one for ``emit(_:toEach:)``.
    ///
    /// - Returns: the event's seq in each session.
    public func emit(
        run: String,
        kind: String,
        payload: Payload = .empty,
        confirm: ConfirmationLevel = .receipt,
        endsRun: Bool? = nil,
        toEach sessions: [SessionID],
        origin: String? = nil
    ) throws(ReconcilerError) -> [SessionID: Seq] {
        let emission = Emission(
            run: run, kind: kind, payload: payload, confirm: confirm, endsRun: endsRun, origin: origin)
        let (seqs, refusal) = emit(CollectionOfOne(emission), toEach: sessions)
        if let refusal { throw refusal }
        return seqs[0]
    }

    /// One event of ``emit(_:toEach:)``.
    public struct Emission: Sendable {
        /// As ``ReconcilerService/emit(run:kind:payload:confirm:endsRun:toEach:origin:)`` takes them.
        public var run: String
        public var kind: String
        public var payload: Payload
        public var confirm: ConfirmationLevel
        public var endsRun: Bool?
        public var origin: String?

        /// An event to emit.
        public init(
            run: String, kind: String, payload: Payload = .empty, confirm: ConfirmationLevel = .receipt,
            endsRun: Bool? = nil, origin: String? = nil
        ) {
            self.run = run
            self.kind = kind
            self.payload = payload
            self.confirm = confirm
            self.endsRun = endsRun
            self.origin = origin
        }
    }

    /// Emits `events` in order, each to every one of `sessions` (all or nothing per event, as
    /// ``emit(run:kind:payload:confirm:endsRun:toEach:origin:)``), under one acquisition of the service's lock: what
    /// a batch of a hundred costs once instead of a hundred times. Stops at the first event that cannot be taken.
    ///
    /// - Returns: each taken event's seq in each session, in order, and why the next one was not taken, if one was
    ///   not (the events after it were not tried).
    public func emit(
        _ events: some Collection<Emission>, toEach sessions: [SessionID]
    ) -> (seqs: [[SessionID: Seq]], refusal: ReconcilerError?) {
        state.withLock { state in
            var taken: [[SessionID: Seq]] = []
            taken.reserveCapacity(events.count)
            let now = clock.nowMs()
            for event in events {
                do throws(ReconcilerError) {
                    try checkStoreHasRoom(&state, run: event.run, in: sessions)
                    for session in sessions { try state.machine.checkAdmits(run: event.run, to: session) }
                    var seqs: [SessionID: Seq] = [:]
                    for session in sessions {
                        let emission = try state.machine.emit(
                            run: event.run, kind: event.kind, payload: event.payload, confirm: event.confirm,
                            endsRun: event.endsRun, to: session, origin: event.origin, now: now)
                        perform(emission.actions, &state)
                        seqs[session] = emission.seq
                    }
                    taken.append(seqs)
                } catch {
                    return (taken, error)
                }
            }
            return (taken, nil)
        }
    }
}
