import EventAckProtocol

/// What the reconciler retains of one emitted event until it is confirmed at its level or failed. Kept small:
/// the payload is released once the receipt is acknowledged (it is never resent after that), and the run is an
/// index into the session's run table. `MemoryLayout<RetainedEvent>.stride` is what `eventack bench` reports.
struct RetainedEvent: Sendable {
    /// Where the event stands.
    enum Stage: UInt8, Sendable {
        /// Emitted, behind the window: not sent yet.
        case queued
        /// Sent, not receipt-acknowledged: the receipt deadline runs.
        case inFlight
        /// Receipt-acknowledged, waiting for display.
        case awaitingDisplay
        /// Displayed, waiting for value.
        case awaitingValue
        /// Confirmed at its level, or failed: nothing more to do.
        case resolved

        /// The level a confirmation is awaited at by the client's app, with a deadline of its own (§ 8): display
        /// or value; `nil` before the receipt and once resolved.
        var awaitedLevel: ConfirmationLevel? {
            switch self {
            case .awaitingDisplay: .display
            case .awaitingValue: .value
            case .queued, .inFlight, .resolved: nil
            }
        }
    }

    /// The payload, until the receipt is acknowledged.
    var payload: Payload?
    var kind: String
    /// The emit time, also the event's `ts`.
    var emittedAt: UInt64
    /// When the current stage began (send, receipt or display): the origin of its deadline.
    var stageStartedAt: UInt64 = 0
    /// The pending timer of this event, 0 for none. A timer heap entry is live only while it equals this.
    var deadline: UInt64 = 0
    var runIndex: UInt32
    /// Sends so far (the `attempt` of the last one).
    var attempt: UInt16 = 0
    var confirm: ConfirmationLevel
    var stage: Stage = .queued
    /// The highest level reached, if any.
    var reached: ConfirmationLevel?
    /// Whether the current stage passed its overdue deadline.
    var isOverdue = false
    /// Whether this is its run's last event (sent as `endsRun` to 1.1 clients, EA-EVT-7).
    var endsRun = false

    /// Counts one more send. Saturates instead of trapping: the limit (``RetransmissionPolicy/maxAttemptsLimit``)
    /// is far below the counter's range, and no input — a resume storm included — may crash the server.
    mutating func countAttempt() -> UInt16 {
        attempt = attempt == .max ? .max : attempt + 1
        return attempt
    }
}

/// The retained events of one session, indexed by seq offset: seqs are contiguous per session, so the event of
/// `seq` sits at `seq - firstSeq` from the head of a ring buffer. No per-event dictionary, no per-event
/// allocation; resolved events at the head are dropped as the lowest unresolved seq advances.
struct EventRing: Sendable {
    private var storage: [RetainedEvent?] = []
    private var head = 0
    /// The seq of the event at the head; every seq below it is resolved and forgotten.
    private(set) var firstSeq: Seq = 1
    /// Retained events, resolved ones above the lowest unresolved included.
    private(set) var count = 0

    /// One past the last retained seq.
    var endSeq: Seq { firstSeq + Seq(count) }

    func contains(_ seq: Seq) -> Bool { seq >= firstSeq && seq < endSeq }

    subscript(seq: Seq) -> RetainedEvent {
        get { storage[slot(of: seq)]! }
        _modify { yield &storage[slot(of: seq)]! }
    }

    /// Appends the event of seq ``endSeq``.
    mutating func append(_ event: RetainedEvent) {
        if count == storage.count { grow() }
        storage[(head + count) & (storage.count - 1)] = event
        count += 1
    }

    /// Drops resolved events from the head.
    mutating func dropResolvedPrefix() {
        while count > 0, storage[head]!.stage == .resolved {
            storage[head] = nil
            head = (head + 1) & (storage.count - 1)
            firstSeq += 1
            count -= 1
        }
    }

    private func slot(of seq: Seq) -> Int {
        precondition(contains(seq), "seq \(seq) is not retained")
        return (head + Int(seq - firstSeq)) & (storage.count - 1)
    }

    /// Doubles the capacity (a power of two, so that slots are found with a mask).
    private mutating func grow() {
        let newCapacity = max(16, storage.count * 2)
        var newStorage: [RetainedEvent?] = []
        newStorage.reserveCapacity(newCapacity)
        for offset in 0..<count { newStorage.append(storage[(head + offset) & (storage.count - 1)]) }
        newStorage.append(contentsOf: repeatElement(nil, count: newCapacity - count))
        storage = newStorage
        head = 0
    }
}
