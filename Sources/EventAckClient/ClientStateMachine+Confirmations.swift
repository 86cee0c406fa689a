import EventAckProtocol

/// Display and value confirmations and nacks, retained until the server's `synced` covers them (EA-SYNC-3).
struct ConfirmationState: Sendable {
    /// Seqs the app confirmed as displayed (including those implied by a value confirmation).
    var displayed = AckSet()
    /// Delivered seqs that ask only for receipt. Sent inside the display set (EA-ACK-7) so that it keeps few
    /// ranges: without them every receipt-only event between two displayed ones would be a hole, and past 64
    /// holes the newest display confirmations could not be sent at all.
    var receiptOnly = AckSet()
    /// Value confirmations the server has not echoed yet.
    var unsyncedValues: [Seq: ValueConfirmation] = [:]
    /// Seqs whose value was confirmed, echoed or not.
    var valued = AckSet()
    /// Nacks not yet covered by a `synced`, by seq; `freshNacks` of them were never sent.
    var unsyncedNacks: [Seq: Nack] = [:]
    var freshNacks: [Seq] = []
    /// When confirmations or nacks the server has not echoed were last sent; `nil` when everything sent is echoed.
    /// A lost ack or `synced` would otherwise leave them unsent until the next event or reconnect (EA-SYNC-4).
    var awaitingEchoSince: UInt64?
    /// What the server echoed.
    var synced = Synced(receipt: AckSet(), display: AckSet(), value: AckSet())

    /// The most ranges kept of what the server echoed per level. The echo is only compared against, so keeping
    /// less is safe (a confirmation looks unechoed and is sent again); without a cap a server could grow it by 64
    /// ranges a frame.
    static let maxEchoRanges = 4 * ProtocolLimits.maxAckRanges

    mutating func syncedReceived(_ echo: Synced) {
        for level in ConfirmationLevel.allCases {
            guard let set = echo[level] else { continue }
            let kept = (synced[level]?.union(set) ?? set).capped(toRanges: Self.maxEchoRanges)
            switch level {
            case .receipt: synced.receipt = kept
            case .display: synced.display = kept
            case .value:
                synced.value = kept
                unsyncedValues = unsyncedValues.filter { !set.contains($0.key) }
            }
            // EA-SYNC-1: a failed seq is covered at the level it failed at. Once the server has the nack, the seq
            // joins the display set's allowance (EA-ACK-8): it will never be displayed, and must not stay a hole.
            for (seq, nack) in unsyncedNacks where nack.level == level && set.contains(seq) {
                unsyncedNacks[seq] = nil
                receiptOnly.insert(seq)
            }
        }
        if !hasUnechoed { awaitingEchoSince = nil }
    }

    /// Whether a confirmation or nack was made that no `synced` has covered yet.
    var hasUnechoed: Bool { displayToSend() != nil || !unsyncedValues.isEmpty || !unsyncedNacks.isEmpty }

    /// The display set, if it says something the server has not echoed.
    func displayToSend() -> AckSet? {
        guard !displayed.isEmpty, !(synced.display ?? AckSet()).isSuperset(of: displayed) else { return nil }
        return displayed.union(receiptOnly).capped()
    }

    /// The value confirmations not yet echoed, lowest seq first (at most the wire limit per ack).
    func valueToSend() -> [ValueConfirmation]? {
        guard !unsyncedValues.isEmpty else { return nil }
        return Array(unsyncedValues.values.sorted { $0.seq < $1.seq }.prefix(ProtocolLimits.maxValueConfirmations))
    }

    /// The nacks to send: the fresh ones, or with `all` every one not yet echoed (lowest seq first).
    mutating func takeNacks(all: Bool) -> [Nack] {
        defer { freshNacks = [] }
        let seqs = all ? unsyncedNacks.keys.sorted() : freshNacks
        return seqs.compactMap { unsyncedNacks[$0] }
    }

    /// Confirmed seqs the server has not echoed.
    func unsyncedSeqs() -> Set<Seq> {
        var seqs = Set(unsyncedValues.keys)
        let echoedDisplay = synced.display ?? AckSet()
        for range in displayed.memberRanges where range.count < 10_000 {
            for seq in range where !echoedDisplay.contains(seq) { seqs.insert(seq) }
        }
        return seqs
    }
}

extension ClientStateMachine {
    /// A `synced` on the live link: checked against what was sent (EA-SYNC-6), recorded, then it may fill holes with
    /// failed seqs (EA-SYNC-5) and settle a close.
    mutating func syncedReceived(_ synced: Synced, link: ClientStateMachine.Link, now: UInt64) -> [ClientAction] {
        let reach = delivery.highestSeen + link.window
        let highest = ConfirmationLevel.allCases.compactMap { synced[$0]?.highest }.max() ?? 0
        guard highest <= reach else {
            // A server cannot settle what it never sent, and it sends at most `window` events beyond the highest
            // this client saw. Taking such a frame would let one frame make the client skip 2^53 seqs.
            let error = EventAckError(
                code: .ackUnknownSeq,
                message: "synced covers seq \(highest), beyond the \(link.window)-event window above seq "
                    + "\(delivery.highestSeen), the highest received",
                path: "$", seq: highest)
            return sent(.error(ErrorMessage(error, fatal: false)), now: now) + [.signal(.protocolViolation(error))]
        }
        confirmations.syncedReceived(synced)
        var actions = synced.receipt.map { skipFailedSeqs(settled: $0) } ?? []
        if !delivery.buffered.isEmpty, confirmations.awaitingEchoSince == nil {
            // Still waiting for a hole: ask again later; the answer fills it or says it failed (EA-SYNC-5).
            confirmations.awaitingEchoSince = now
        }
        actions += finishCloseIfDone(now: now)
        return actions
    }

    /// The delivered events still waiting for display or value, lowest seq first; optionally of one run.
    public func outstanding(run: String? = nil) -> [OutstandingEvent] {
        delivery.outstanding.values.filter { run == nil || $0.run == run }.sorted { $0.seq < $1.seq }
    }

    /// The app rendered `seq` (EA-LVL-1). Idempotent.
    ///
    /// - Throws: ``ClientUsageError`` when `seq` was not delivered or does not ask for display.
    public mutating func markDisplayed(_ seq: Seq, now: UInt64) throws(ClientUsageError) -> [ClientAction] {
        try checkDelivered(seq)
        if confirmations.displayed.contains(seq) { return [] }
        guard var pending = delivery.outstanding[seq] else { throw .levelNotRequested(seq, .display) }
        confirmations.displayed.insert(seq)
        pending.displayed = true
        delivery.outstanding[seq] = pending.needs == .display ? nil : pending
        return scheduleAck(now: now)
    }

    /// The user or app got the value of `seq`; implies display (EA-LVL-1). Idempotent.
    ///
    /// - Throws: ``ClientUsageError`` when `seq` was not delivered or does not ask for value.
    public mutating func confirmValue(
        _ seq: Seq,
        signal: String? = nil,
        score: Double? = nil,
        now: UInt64
    ) throws(ClientUsageError) -> [ClientAction] {
        try checkDelivered(seq)
        if confirmations.valued.contains(seq) { return [] }
        guard let pending = delivery.outstanding[seq], pending.needs == .value else {
            throw .levelNotRequested(seq, .value)
        }
        confirmations.displayed.insert(seq)
        confirmations.valued.insert(seq)
        confirmations.unsyncedValues[seq] = ValueConfirmation(seq: seq, signal: signal, score: score)
        delivery.outstanding[seq] = nil
        return scheduleAck(now: now)
    }

    /// The app could not display `seq`, or the user rejected its value: a `nack`, final for that level
    /// (EA-NACK-2).
    ///
    /// - Throws: ``ClientUsageError`` when `seq` was not delivered, or `level` is receipt or above what it asks.
    public mutating func reject(
        _ seq: Seq,
        level: ConfirmationLevel,
        reason: NackReason,
        detail: String? = nil,
        now: UInt64
    ) throws(ClientUsageError) -> [ClientAction] {
        try checkDelivered(seq)
        guard level > .receipt, let pending = delivery.outstanding[seq], level <= pending.needs else {
            throw .levelNotRequested(seq, level)
        }
        delivery.outstanding[seq] = nil
        confirmations.unsyncedNacks[seq] = Nack(seq: seq, level: level, reason: reason, detail: detail)
        confirmations.freshNacks.append(seq)
        return isConnected ? flushAck(now: now, force: true) : []
    }

    private func checkDelivered(_ seq: Seq) throws(ClientUsageError) {
        guard seq >= 1, seq < delivery.nextToDeliver else { throw .notDelivered(seq) }
    }
}
