import EventAckProtocol

/// Confirmation figures of one scope (a run, a session, everything): how many events asked for each level, how
/// many reached it, how many failed and why, how long it took, and what it cost.
public struct ConfirmationStats: Sendable, Hashable, Codable {
    /// Events emitted.
    public var events: UInt64 = 0
    /// Figures for events that ask for receipt or more (every event).
    public var receipt = LevelStats()
    /// Figures for events that ask for display or value.
    public var display = LevelStats()
    /// Figures for events that ask for value.
    public var value = LevelStats()
    /// Failed events by reason (`receipt_timeout`, `render_failed`, `session_expired`…). The spec's reasons are
    /// always counted apart; reasons a client makes up, only the first ``maxCustomReasons`` — the rest are counted
    /// under ``otherReason``, so that no peer can grow the report without bound.
    public var failuresByReason: [String: UInt64] = [:]
    /// Events that passed an overdue deadline (confirmed later or failed).
    public var overdue: UInt64 = 0
    /// Retransmitted frames (timeouts, fast retransmits, receipt nacks and resume replays).
    public var retransmissions: UInt64 = 0
    /// Confirmations and nacks received again for an event already settled at that level (resent after a
    /// reconnect or before a `synced` arrived); absorbed, as acks are idempotent (EA-ACK-3).
    public var duplicates: UInt64 = 0
    /// Emits refused because their run had already ended in the session (`run_ended`, EA-RUN-1): a run id was
    /// reused. Counted for sessions and overall; such an event belongs to no run.
    public var refusedEmits: UInt64 = 0

    /// Nothing counted yet.
    public init() {}

    /// The figures of a level.
    public subscript(level: ConfirmationLevel) -> LevelStats {
        get {
            switch level {
            case .receipt: receipt
            case .display: display
            case .value: value
            }
        }
        _modify {
            // In place: a get/set pair would copy the histogram's buckets on every count.
            switch level {
            case .receipt: yield &receipt
            case .display: yield &display
            case .value: yield &value
            }
        }
    }

    /// Events confirmed at the level they ask for.
    public var confirmed: UInt64 {
        // An event is in the figures of every level up to the one it asks for, so summing `confirmed` over levels
        // would count it up to three times; each event has exactly one requested level.
        receipt.confirmedAtRequestedLevel + display.confirmedAtRequestedLevel + value.confirmedAtRequestedLevel
    }

    /// Events failed at some level.
    public var failed: UInt64 { failuresByReason.values.reduce(0, +) }

    /// Events neither confirmed at their level nor failed.
    public var pending: UInt64 { events - min(events, confirmed + failed) }

    /// App-defined failure reasons counted apart in one scope.
    public static let maxCustomReasons = 16
    /// The reason under which further app-defined reasons are counted.
    public static let otherReason = "other"
    /// Reasons the spec defines (deadlines, expiry, shutdown, and the nack reasons of EA-NACK-1).
    static let definedReasons: Set<String> = [
        "receipt_timeout", "display_timeout", "value_timeout", "session_expired", "shutdown", "undecodable",
        "render_failed", "dismissed", "rejected", otherReason,
    ]

    /// Counts `count` failures with `reason`, or under ``otherReason`` when the scope already counts
    /// ``maxCustomReasons`` app-defined reasons.
    public mutating func countFailures(_ reason: String, _ count: UInt64 = 1) {
        var key = reason
        if failuresByReason[reason] == nil, !Self.definedReasons.contains(reason) {
            let custom = failuresByReason.keys.count(where: { !Self.definedReasons.contains($0) })
            if custom >= Self.maxCustomReasons { key = Self.otherReason }
        }
        failuresByReason[key, default: 0] += count
    }

    /// Adds `other`'s figures.
    public mutating func merge(_ other: ConfirmationStats) {
        events += other.events
        receipt.merge(other.receipt)
        display.merge(other.display)
        value.merge(other.value)
        for (reason, count) in other.failuresByReason.sorted(by: { $0.key < $1.key }) { countFailures(reason, count) }
        overdue += other.overdue
        retransmissions += other.retransmissions
        duplicates += other.duplicates
        refusedEmits += other.refusedEmits
    }

    private enum CodingKeys: String, CodingKey {
        case events, receipt, display, value, failuresByReason, overdue, retransmissions, duplicates, refusedEmits
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        events = try container.decode(UInt64.self, forKey: .events)
        receipt = try container.decode(LevelStats.self, forKey: .receipt)
        display = try container.decode(LevelStats.self, forKey: .display)
        value = try container.decode(LevelStats.self, forKey: .value)
        failuresByReason = try container.decode([String: UInt64].self, forKey: .failuresByReason)
        overdue = try container.decode(UInt64.self, forKey: .overdue)
        retransmissions = try container.decode(UInt64.self, forKey: .retransmissions)
        duplicates = try container.decode(UInt64.self, forKey: .duplicates)
        // Added with EA-RUN-1: reports written before it have none.
        refusedEmits = try container.decodeIfPresent(UInt64.self, forKey: .refusedEmits) ?? 0
    }
}

/// Figures of one confirmation level.
public struct LevelStats: Sendable, Hashable, Codable {
    /// Events that ask for this level or a higher one.
    public var requested: UInt64 = 0
    /// Of those, events that reached this level.
    public var confirmed: UInt64 = 0
    /// Of those, events that failed before reaching this level.
    public var failed: UInt64 = 0
    /// Events whose requested level is exactly this one and that reached it.
    public var confirmedAtRequestedLevel: UInt64 = 0
    /// Time from emit to this level, for the events that reached it.
    public var latencyMs = LatencyHistogram()

    /// Nothing counted yet.
    public init() {}

    /// Events still waiting for this level.
    public var pending: UInt64 { requested - min(requested, confirmed + failed) }

    /// `confirmed / requested`, or 1 when nothing was requested.
    public var rate: Double { requested == 0 ? 1 : Double(confirmed) / Double(requested) }

    /// ``rate`` as reports carry it: four decimals.
    var reportedRate: Double { (rate * 10_000).rounded() / 10_000 }

    /// Adds `other`'s figures.
    public mutating func merge(_ other: LevelStats) {
        requested += other.requested
        confirmed += other.confirmed
        failed += other.failed
        confirmedAtRequestedLevel += other.confirmedAtRequestedLevel
        latencyMs.merge(other.latencyMs)
    }

    private enum CodingKeys: String, CodingKey {
        case requested, confirmed, failed, pending, rate, confirmedAtRequestedLevel, latencyMs
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        requested = try container.decode(UInt64.self, forKey: .requested)
        confirmed = try container.decode(UInt64.self, forKey: .confirmed)
        failed = try container.decode(UInt64.self, forKey: .failed)
        confirmedAtRequestedLevel = try container.decode(UInt64.self, forKey: .confirmedAtRequestedLevel)
        latencyMs = try container.decode(LatencyHistogram.self, forKey: .latencyMs)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(requested, forKey: .requested)
        try container.encode(confirmed, forKey: .confirmed)
        try container.encode(failed, forKey: .failed)
        try container.encode(pending, forKey: .pending)
        try container.encode(reportedRate, forKey: .rate)
        try container.encode(confirmedAtRequestedLevel, forKey: .confirmedAtRequestedLevel)
        try container.encode(latencyMs, forKey: .latencyMs)
    }
}
