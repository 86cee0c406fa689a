import EventAckProtocol

extension SessionMachine {
    /// An `ack` or `nack` on the session's connection.
    mutating func confirmationsReceived(
        _ message: Message, on connection: ConnectionID, now: UInt64, context: inout SessionContext
    ) {
        // A client acks and nacks only after `welcome`: it holds the new token, so the one it resumed with dies
        // (EA-RES-3).
        previousToken = nil
        switch message {
        case .ack(let ack): ackReceived(ack, on: connection, now: now, context: &context)
        case .nack(let nack): nackReceived(nack, on: connection, now: now, context: &context)
        default: return  // messageReceived passes only acks and nacks
        }
        // One `synced` at the end echoes the whole input, not the part applied so far (EA-SYNC-2).
        flushSynced(now: now, context: &context)
    }

    /// EA-ACK-1…6: an ack is checked as a whole, then applied highest level first (a higher level implies the
    /// lower ones, EA-LVL-1). The cost is the ranges of the ack plus the events it newly confirms, never the
    /// events that are merely outstanding.
    mutating func ackReceived(_ ack: Ack, on connection: ConnectionID, now: UInt64, context: inout SessionContext) {
        if let error = unknownSeq(in: ack) {
            // EA-ACK-6: answered, and no state changes.
            context.reject(error, on: connection, session: id, now: now)
            return
        }
        if let value = ack.value, !value.isEmpty {
            context.record(id, .confirmed(level: .value, seqs: AckSet(value.map(\.seq)), at: now))
        }
        if let display = ack.display, !display.isEmpty {
            context.record(id, .confirmed(level: .display, seqs: display, at: now))
        }
        if let receipt = ack.receipt, !receipt.isEmpty {
            context.record(id, .confirmed(level: .receipt, seqs: receipt, at: now))
        }
        for confirmation in ack.value ?? [] {
            if confirmedValue.contains(confirmation.seq) || isSettled(confirmation.seq) {
                countDuplicate(confirmation.seq, context: &context)
                continue
            }
            let range = confirmation.seq...confirmation.seq
            applyConfirmations(range, at: .value, now: now, context: &context)
        }
        if let display = ack.display { applyConfirmations(display, at: .display, now: now, context: &context) }
        if let receipt = ack.receipt {
            applyConfirmations(receipt, at: .receipt, now: now, context: &context)
            fastRetransmit(holesOf: receipt, on: connection, now: now, context: &context)
        }
        pump(now: now, context: &context)
    }

    /// EA-NACK-2: a receipt nack asks for a resend; a display or value nack is a final failure with its reason.
    mutating func nackReceived(_ nack: Nack, on connection: ConnectionID, now: UInt64, context: inout SessionContext) {
        guard nack.seq <= highestSent else {
            let error = EventAckError(
                code: .ackUnknownSeq, message: "nack names seq \(nack.seq), never sent to this session", path: "$.seq",
                seq: nack.seq)
            context.reject(error, on: connection, session: id, now: now)
            return
        }
        guard events.contains(nack.seq), events[nack.seq].stage != .resolved else {
            countDuplicate(nack.seq, context: &context)
            return
        }
        let retained = events[nack.seq]
        guard nack.level <= retained.confirm else {
            let error = EventAckError(
                code: .invalidMessage,
                message: "seq \(nack.seq) asks for \(retained.confirm.rawValue), not \(nack.level.rawValue)",
                path: "$.level", seq: nack.seq)
            context.reject(error, on: connection, session: id, now: now)
            return
        }
        if let reached = retained.reached, reached >= nack.level {
            // Already confirmed at that level: a confirmation cannot be taken back.
            countDuplicate(nack.seq, context: &context)
            return
        }
        if nack.level == .receipt {
            resend(
                nack.seq, because: .receiptNack(FailureReason(nack.reason)), on: connection, now: now, context: &context
            )
            return
        }
        fail(nack.seq, reason: FailureReason(nack.reason), now: now, context: &context)
    }

    /// Settles every seq of `set` not yet confirmed at `level`, and records `set` at `level` and below.
    mutating func applyConfirmations(
        _ set: AckSet, at level: ConfirmationLevel, now: UInt64, context: inout SessionContext
    ) {
        for range in set.memberRanges { applyConfirmations(range, at: level, now: now, context: &context) }
    }

    private mutating func applyConfirmations(
        _ range: ClosedRange<Seq>,
        at level: ConfirmationLevel,
        now: UInt64,
        context: inout SessionContext
    ) {
        for fresh in confirmed(at: level).missing(from: range) {
            // Seqs below the ring's head are resolved and forgotten; only retained ones need work.
            let low = max(fresh.lowerBound, events.firstSeq)
            if low <= fresh.upperBound {
                for seq in low...fresh.upperBound { reach(level, seq: seq, now: now, context: &context) }
            }
            for implied in ConfirmationLevel.allCases where implied <= level {
                insertConfirmed(fresh, at: implied)
            }
        }
        requestSynced(now: now, context: &context)
    }

    /// EA-RTX-2: resend at once the in-flight events an ack's ranges show missing, at most once per ack, and not
    /// when the event was sent so recently that its ack may still be on the way.
    private mutating func fastRetransmit(
        holesOf receipt: AckSet, on connection: ConnectionID, now: UInt64, context: inout SessionContext
    ) {
        let minimumAge = max(context.configuration.ackDelayMs * 2, 1)
        for hole in receipt.holes() {
            for missing in confirmedReceipt.missing(from: hole) {
                let low = max(missing.lowerBound, events.firstSeq)
                guard low <= missing.upperBound else { continue }
                for seq in low...missing.upperBound {
                    let retained = events[seq]
                    guard retained.stage == .inFlight, now - min(now, retained.stageStartedAt) >= minimumAge else {
                        continue
                    }
                    resend(seq, because: .hole, on: connection, now: now, context: &context)
                }
            }
        }
    }

    /// The first seq of the ack that was never sent to this session, as an error.
    private func unknownSeq(in ack: Ack) -> EventAckError? {
        let highest = highestSent
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

    private func isSettled(_ seq: Seq) -> Bool {
        !events.contains(seq) || events[seq].stage == .resolved
    }

    private mutating func countDuplicate(_ seq: Seq, context: inout SessionContext) {
        // Only an unresolved event is sure to have its run's tracker: a resolved one's run may have finished and
        // its slot been given to another run.
        if !isSettled(seq) {
            count(run: events[seq].runIndex, context: &context) { $0.duplicates += 1 }
        } else {
            stats.duplicates += 1
            context.book.overall.duplicates += 1
        }
    }
}
