import EventAckProtocol

extension Reconciler {
    /// An `ack` or `nack` on the session's connection.
    mutating func confirmationsReceived(
        _ message: Message, session: inout SessionState, on connection: ConnectionID, now: UInt64
    ) {
        // A client acks and nacks only after `welcome`: it holds the new token, so the one it resumed with dies
        // (EA-RES-3).
        session.previousToken = nil
        switch message {
        case .ack(let ack): ackReceived(ack, session: &session, on: connection, now: now)
        case .nack(let nack): nackReceived(nack, session: &session, on: connection, now: now)
        default: return  // messageReceived passes only acks and nacks
        }
        // One `synced` at the end echoes the whole input, not the part applied so far (EA-SYNC-2).
        flushSynced(&session, now: now)
    }

    /// EA-ACK-1…6: an ack is checked as a whole, then applied highest level first (a higher level implies the
    /// lower ones, EA-LVL-1). The cost is the ranges of the ack plus the events it newly confirms, never the
    /// events that are merely outstanding.
    mutating func ackReceived(_ ack: Ack, session: inout SessionState, on connection: ConnectionID, now: UInt64) {
        if let error = unknownSeq(in: ack, session: &session) {
            // EA-ACK-6: answered, and no state changes.
            rejectFrame(error, on: connection, fatal: false, session: session.id, now: now)
            return
        }
        if let value = ack.value, !value.isEmpty {
            record(session.id, .confirmed(level: .value, seqs: AckSet(value.map(\.seq)), at: now))
        }
        if let display = ack.display, !display.isEmpty {
            record(session.id, .confirmed(level: .display, seqs: display, at: now))
        }
        if let receipt = ack.receipt, !receipt.isEmpty {
            record(session.id, .confirmed(level: .receipt, seqs: receipt, at: now))
        }
        for confirmation in ack.value ?? [] {
            if session.confirmedValue.contains(confirmation.seq) || isSettled(confirmation.seq, session: session) {
                countDuplicate(confirmation.seq, session: &session)
                continue
            }
            let range = confirmation.seq...confirmation.seq
            applyConfirmations(range, at: .value, session: &session, now: now)
        }
        if let display = ack.display { applyConfirmations(display, at: .display, session: &session, now: now) }
        if let receipt = ack.receipt {
            applyConfirmations(receipt, at: .receipt, session: &session, now: now)
            fastRetransmit(holesOf: receipt, session: &session, on: connection, now: now)
        }
        pump(&session, now: now)
    }

    /// EA-NACK-2: a receipt nack asks for a resend; a display or value nack is a final failure with its reason.
    mutating func nackReceived(_ nack: Nack, session: inout SessionState, on connection: ConnectionID, now: UInt64) {
        guard nack.seq <= session.highestSent else {
            let error = EventAckError(
                code: .ackUnknownSeq, message: "nack names seq \(nack.seq), never sent to this session", path: "$.seq",
                seq: nack.seq)
            rejectFrame(error, on: connection, fatal: false, session: session.id, now: now)
            return
        }
        guard session.events.contains(nack.seq), session.events[nack.seq].stage != .resolved else {
            countDuplicate(nack.seq, session: &session)
            return
        }
        let retained = session.events[nack.seq]
        guard nack.level <= retained.confirm else {
            let error = EventAckError(
                code: .invalidMessage,
                message: "seq \(nack.seq) asks for \(retained.confirm.rawValue), not \(nack.level.rawValue)",
                path: "$.level", seq: nack.seq)
            rejectFrame(error, on: connection, fatal: false, session: session.id, now: now)
            return
        }
        if let reached = retained.reached, reached >= nack.level {
            // Already confirmed at that level: a confirmation cannot be taken back.
            countDuplicate(nack.seq, session: &session)
            return
        }
        if nack.level == .receipt {
            if UInt64(retained.attempt) >= configuration.retransmission.maxAttempts {
                fail(nack.seq, session: &session, reason: FailureReason(nack.reason), now: now)
            } else {
                transmit(nack.seq, session: &session, on: connection, now: now)
            }
            return
        }
        fail(nack.seq, session: &session, reason: FailureReason(nack.reason), now: now)
    }

    /// Settles every seq of `set` not yet confirmed at `level`, and records `set` at `level` and below.
    mutating func applyConfirmations(
        _ set: AckSet, at level: ConfirmationLevel, session: inout SessionState, now: UInt64
    ) {
        for range in set.memberRanges { applyConfirmations(range, at: level, session: &session, now: now) }
    }

    private mutating func applyConfirmations(
        _ range: ClosedRange<Seq>,
        at level: ConfirmationLevel,
        session: inout SessionState,
        now: UInt64
    ) {
        for fresh in session.confirmed(at: level).missing(from: range) {
            // Seqs below the ring's head are resolved and forgotten; only retained ones need work.
            let low = max(fresh.lowerBound, session.events.firstSeq)
            if low <= fresh.upperBound {
                for seq in low...fresh.upperBound { reach(level, seq: seq, session: &session, now: now) }
            }
            for implied in ConfirmationLevel.allCases where implied <= level {
                session.insertConfirmed(fresh, at: implied)
            }
        }
        requestSynced(&session, now: now)
    }

    /// EA-RTX-2: resend at once the in-flight events an ack's ranges show missing, at most once per ack, and not
    /// when the event was sent so recently that its ack may still be on the way.
    private mutating func fastRetransmit(
        holesOf receipt: AckSet, session: inout SessionState, on connection: ConnectionID, now: UInt64
    ) {
        let minimumAge = max(configuration.ackDelayMs * 2, 1)
        for hole in receipt.holes() {
            for missing in session.confirmedReceipt.missing(from: hole) {
                let low = max(missing.lowerBound, session.events.firstSeq)
                guard low <= missing.upperBound else { continue }
                for seq in low...missing.upperBound {
                    let retained = session.events[seq]
                    guard retained.stage == .inFlight, now - min(now, retained.stageStartedAt) >= minimumAge else {
                        continue
                    }
                    if UInt64(retained.attempt) < configuration.retransmission.maxAttempts {
                        transmit(seq, session: &session, on: connection, now: now)
                    }
                }
            }
        }
    }

    /// The first seq of the ack that was never sent to this session, as an error.
    private func unknownSeq(in ack: Ack, session: inout SessionState) -> EventAckError? {
        let highest = session.highestSent
        for (set, path) in [(ack.receipt, "$.receipt"), (ack.display, "$.display")] {
            if let top = set?.highest, top > highest {
                return EventAckError(
                    code: .ackUnknownSeq, message: "ack names seq \(top), never sent to this session", path: path,
                    seq: top)
            }
        }
        for (index, item) in (ack.value ?? []).enumerated() where item.seq > highest {
            return EventAckError(
                code: .ackUnknownSeq, message: "value confirms seq \(item.seq), never sent to this session",
                path: "$.value[\(index)].seq", seq: item.seq)
        }
        return nil
    }

    private func isSettled(_ seq: Seq, session: SessionState) -> Bool {
        !session.events.contains(seq) || session.events[seq].stage == .resolved
    }

    private mutating func countDuplicate(_ seq: Seq, session: inout SessionState) {
        // Only an unresolved event is sure to have its run's tracker: a resolved one's run may have finished and
        // its slot been given to another run.
        if !isSettled(seq, session: session) {
            count(session: &session, run: session.events[seq].runIndex) { $0.duplicates += 1 }
        } else {
            session.stats.duplicates += 1
            book.overall.duplicates += 1
        }
    }
}
