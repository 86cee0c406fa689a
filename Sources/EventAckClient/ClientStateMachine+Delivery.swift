import EventAckProtocol

/// Delivery of events to the app, exactly once and in order, and the receipt acks that go with it.
struct DeliveryState: Sendable {
    /// Every seq the client holds (delivered or buffered), plus the seqs it skipped as failed (EA-SYNC-5): the
    /// receipt ack set. Failed seqs are in it so that they do not stay holes for ever (EA-ACK-8).
    var received = AckSet()
    /// The highest seq of any event frame that arrived, delivered or not: a `synced` cannot reach far above it
    /// (EA-SYNC-6).
    var highestSeen: Seq = 0
    /// The next seq to hand to the app.
    var nextToDeliver: Seq = 1
    /// Events above a hole, waiting for it to fill (EA-DEL-2). Bounded by the configuration.
    var buffered: [Seq: Event] = [:]
    /// Delivered events that still need display or value, by seq.
    var outstanding: [Seq: OutstandingEvent] = [:]
    /// Events received since the last ack was sent.
    var unackedCount = 0
    /// When the coalesced ack must go out, if one is pending.
    var ackDue: UInt64?

    /// The seqs buffered but never delivered, as one covering range (for a session reset report).
    func bufferedRange() -> ClosedRange<Seq>? {
        guard let low = buffered.keys.min(), let high = buffered.keys.max() else { return nil }
        return low...high
    }
}

extension ClientStateMachine {
    mutating func eventReceived(_ event: Event, now: UInt64) -> [ClientAction] {
        delivery.highestSeen = max(delivery.highestSeen, event.seq)
        var actions = runs.activity(run: event.run, now: now, timeoutMs: configuration.runIdleTimeoutMs)
        if delivery.received.contains(event.seq) {
            // EA-DEL-1: a duplicate is acknowledged again (the server did not see the ack), never delivered twice.
            delivery.unackedCount += 1
            return actions + scheduleAck(now: now)
        }
        if event.seq < delivery.nextToDeliver {
            // A late copy of a seq skipped as lost (EA-SYNC-5): delivering it now would break the order.
            return actions
        }
        if event.seq > delivery.nextToDeliver {
            // A gap: hold the event (if there is room) and ack at once so the server fast-retransmits.
            guard delivery.buffered.count < configuration.reorderBufferLimit else { return actions }
            delivery.buffered[event.seq] = event
            delivery.received.insert(event.seq)
            delivery.unackedCount += 1
            return actions + flushAck(now: now)
        }
        delivery.received.insert(event.seq)
        delivery.unackedCount += 1
        actions += deliver(event)
        while let next = delivery.buffered.removeValue(forKey: delivery.nextToDeliver) {
            actions += deliver(next)
        }
        return actions + scheduleAck(now: now)
    }

    private mutating func deliver(_ event: Event) -> [ClientAction] {
        delivery.nextToDeliver = event.seq + 1
        if event.confirm > .receipt {
            delivery.outstanding[event.seq] = OutstandingEvent(
                seq: event.seq, run: event.run, kind: event.kind, needs: event.confirm, displayed: false)
        } else {
            confirmations.receiptOnly.insert(event.seq)
        }
        var actions: [ClientAction] = [.deliver(event)]
        if endsRun(event) {
            runs.end(run: event.run)
            actions.append(.signal(.runEnded(run: event.run, kind: event.kind)))
        }
        return actions
    }

    /// Whether `event` is the last of its run: from 1.1 the server says so (EA-EVT-7); a 1.0 server does not, and
    /// the configured terminal kinds decide.
    private func endsRun(_ event: Event) -> Bool {
        guard case .connected(let link) = connection, link.version < ProtocolVersion(major: 1, minor: 1) else {
            return event.endsRun
        }
        return configuration.terminalKinds.contains(event.kind)
    }

    /// EA-SYNC-5: `synced` says the server needs nothing more for the seqs of `settled` at receipt. A seq there that
    /// the client never received has failed and will never be sent again: report it lost and deliver what is held
    /// above it, instead of waiting for it forever. Seqs are only skipped up to the highest one held, so that a
    /// failed seq at the end is reported when something after it arrives.
    ///
    /// The walk goes range by range, never seq by seq: a hostile `synced` that settles 2^53 seqs below one held
    /// event costs one step and one signal, not a loop over every seq and an array of them.
    mutating func skipFailedSeqs(settled: AckSet) -> [ClientAction] {
        let held = delivery.buffered.keys.sorted()
        guard let highestHeld = held.last else { return [] }
        var actions: [ClientAction] = []
        var nextHeld = held.startIndex
        while delivery.nextToDeliver < highestHeld {
            let next = delivery.nextToDeliver
            while held[nextHeld] < next { nextHeld += 1 }
            if let event = delivery.buffered.removeValue(forKey: next) {
                actions += deliver(event)
                continue
            }
            guard let failed = settled.memberRange(containing: next) else { break }
            // Signalled just before the event after it, so the app sees the true order.
            let lost = next...min(failed.upperBound, held[nextHeld] - 1)
            actions.append(.signal(.eventsLost(lost)))
            delivery.received.insert(lost)
            delivery.nextToDeliver = lost.upperBound + 1
        }
        while let next = delivery.buffered.removeValue(forKey: delivery.nextToDeliver) { actions += deliver(next) }
        return actions
    }

    /// Asks for an ack: at once when the batch is full, otherwise after the server's ack delay (EA-DEL-3).
    mutating func scheduleAck(now: UInt64) -> [ClientAction] {
        guard case .connected(let link) = connection else { return [] }
        if delivery.unackedCount >= configuration.ackBatchSize { return flushAck(now: now) }
        if delivery.ackDue == nil { delivery.ackDue = now + link.ackDelayMs }
        return []
    }

    /// The shell processed every frame that had arrived: the burst is over, so its receipt ack goes now rather than
    /// after the ack delay (EA-DEL-3), when ``ClientConfiguration/acksWhenDrained`` is on. Display and value
    /// confirmations ride this ack only if they are pending anyway.
    public mutating func inboundDrained(now: UInt64) -> [ClientAction] {
        guard configuration.acksWhenDrained, isConnected, delivery.unackedCount > 0 else { return [] }
        return flushAck(now: now)
    }

    /// Sends one `ack` with everything not yet acknowledged or echoed; `force` sends the receipt set even when
    /// nothing new arrived, and every nack not yet echoed (after a resume, or when an echo is overdue).
    mutating func flushAck(now: UInt64, force: Bool = false) -> [ClientAction] {
        guard isConnected else { return [] }
        delivery.ackDue = nil
        let hasNewReceipts = delivery.unackedCount > 0 || force
        delivery.unackedCount = 0
        let display = confirmations.displayToSend()
        let value = confirmations.valueToSend()
        let nacks = confirmations.takeNacks(all: force)
        guard hasNewReceipts || display != nil || value != nil || !nacks.isEmpty else { return [] }
        var actions: [ClientAction] = []
        let ack = Ack(receipt: delivery.received.capped(), display: display, value: value)
        actions += sent(.ack(ack), now: now)
        for nack in nacks { actions += sent(.nack(nack), now: now) }
        // Resent when no `synced` answers (EA-SYNC-4); with a hole, the answer fills it or reports it failed.
        let awaitsEcho = confirmations.hasUnechoed || !delivery.buffered.isEmpty
        confirmations.awaitingEchoSince = awaitsEcho ? now : nil
        return actions
    }
}
