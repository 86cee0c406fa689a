import EventAckProtocol

extension ClientStateMachine {
    /// What a client must keep to resume its session after its process restarts: the session and token, what it
    /// received and delivered, the events it holds above a hole, what still waits for display or value, and the
    /// confirmations and nacks the server has not echoed.
    ///
    /// Save it *before* performing the actions of every input (write-ahead): an ack must never leave before the
    /// state it acknowledges is stored, or a crash between the two loses events the server believes received.
    /// ``EventAckClient`` does this when given a `persist` function. The JSON form is stable
    /// (`eventack-client-snapshot/1`); messages inside it are stored as protocol frames.
    public struct Snapshot: Sendable, Hashable, Codable {
        /// The session to resume.
        public var session: String
        var token: String
        var received: AckSet
        var nextToDeliver: Seq
        var buffered: [Event]
        var outstanding: [OutstandingEvent]
        var displayed: AckSet
        var receiptOnly: AckSet
        var valued: AckSet
        var unsyncedValues: [ValueConfirmation]
        var unsyncedNacks: [Nack]
        var synced: Synced
        /// Runs seen without their end, so that a reset after the restart can still name them. Absent in files
        /// written before it was added.
        var openRuns: [String] = []

        enum CodingKeys: String, CodingKey {
            case format, session, token, received, nextToDeliver, buffered, outstanding, displayed, receiptOnly, valued
            case unsyncedValues, unsyncedNacks, synced, openRuns
        }

        static let format = "eventack-client-snapshot/1"

        init(
            session: String, token: String, received: AckSet, nextToDeliver: Seq, buffered: [Event],
            outstanding: [OutstandingEvent], displayed: AckSet, receiptOnly: AckSet, valued: AckSet,
            unsyncedValues: [ValueConfirmation], unsyncedNacks: [Nack], synced: Synced
        ) {
            (self.session, self.token, self.received, self.nextToDeliver) = (session, token, received, nextToDeliver)
            (self.buffered, self.outstanding, self.displayed) = (buffered, outstanding, displayed)
            (self.receiptOnly, self.valued, self.unsyncedValues) = (receiptOnly, valued, unsyncedValues)
            (self.unsyncedNacks, self.synced) = (unsyncedNacks, synced)
        }

        public init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            let format = try container.decode(String.self, forKey: .format)
            guard format == Self.format else {
                throw DecodingError.dataCorruptedError(
                    forKey: .format, in: container, debugDescription: "unknown snapshot format \(format)")
            }
            let codec = MessageCodec()
            func messages(_ key: CodingKeys) throws -> [Message] {
                try container.decode([String].self, forKey: key).map { try codec.decode($0) }
            }
            session = try container.decode(String.self, forKey: .session)
            token = try container.decode(String.self, forKey: .token)
            received = try container.decode(AckSetCoding.self, forKey: .received).set()
            nextToDeliver = try container.decode(Seq.self, forKey: .nextToDeliver)
            buffered = try messages(.buffered).compactMap { if case .event(let event) = $0 { event } else { nil } }
            outstanding = try container.decode([OutstandingEvent].self, forKey: .outstanding)
            displayed = try container.decode(AckSetCoding.self, forKey: .displayed).set()
            receiptOnly = try container.decode(AckSetCoding.self, forKey: .receiptOnly).set()
            valued = try container.decode(AckSetCoding.self, forKey: .valued).set()
            unsyncedValues = try container.decode([ValueCoding].self, forKey: .unsyncedValues).map(\.confirmation)
            unsyncedNacks = try messages(.unsyncedNacks).compactMap {
                if case .nack(let nack) = $0 { nack } else { nil }
            }
            guard case .synced(let synced) = try codec.decode(try container.decode(String.self, forKey: .synced))
            else {
                throw DecodingError.dataCorruptedError(forKey: .synced, in: container, debugDescription: "not synced")
            }
            self.synced = synced
            openRuns = try container.decodeIfPresent([String].self, forKey: .openRuns) ?? []
            // The restoring machine keys these by seq: a file naming a seq twice is refused, not trapped on.
            let seqLists: [(CodingKeys, [Seq])] = [
                (.buffered, buffered.map(\.seq)), (.outstanding, outstanding.map(\.seq)),
                (.unsyncedValues, unsyncedValues.map(\.seq)), (.unsyncedNacks, unsyncedNacks.map(\.seq)),
            ]
            for (key, seqs) in seqLists where Set(seqs).count != seqs.count {
                throw DecodingError.dataCorruptedError(forKey: key, in: container, debugDescription: "a seq twice")
            }
        }

        public func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            let codec = MessageCodec()
            try container.encode(Self.format, forKey: .format)
            try container.encode(session, forKey: .session)
            try container.encode(token, forKey: .token)
            try container.encode(AckSetCoding(received), forKey: .received)
            try container.encode(nextToDeliver, forKey: .nextToDeliver)
            try container.encode(buffered.map { codec.encode(.event($0)) }, forKey: .buffered)
            try container.encode(outstanding, forKey: .outstanding)
            try container.encode(AckSetCoding(displayed), forKey: .displayed)
            try container.encode(AckSetCoding(receiptOnly), forKey: .receiptOnly)
            try container.encode(AckSetCoding(valued), forKey: .valued)
            try container.encode(unsyncedValues.map(ValueCoding.init), forKey: .unsyncedValues)
            try container.encode(unsyncedNacks.map { codec.encode(.nack($0)) }, forKey: .unsyncedNacks)
            try container.encode(codec.encode(.synced(synced)), forKey: .synced)
            try container.encode(openRuns, forKey: .openRuns)
        }
    }

    /// The state to save, or `nil` before the first session (nothing to resume).
    public var snapshot: Snapshot? {
        guard let session else { return nil }
        var snapshot = Snapshot(
            session: session.id, token: session.token, received: delivery.received,
            nextToDeliver: delivery.nextToDeliver, buffered: delivery.buffered.values.sorted { $0.seq < $1.seq },
            outstanding: outstanding(), displayed: confirmations.displayed, receiptOnly: confirmations.receiptOnly,
            valued: confirmations.valued,
            unsyncedValues: confirmations.unsyncedValues.values.sorted { $0.seq < $1.seq },
            unsyncedNacks: confirmations.unsyncedNacks.values.sorted { $0.seq < $1.seq }, synced: confirmations.synced)
        snapshot.openRuns = runs.openRuns
        return snapshot
    }

    /// A machine that resumes the session of `snapshot` on its first connection: nothing delivered before is
    /// delivered again, and what was confirmed but not echoed is sent again (EA-RES-4).
    public init(configuration: ClientConfiguration = ClientConfiguration(), restoring snapshot: Snapshot) {
        self.init(configuration: configuration)
        session = Session(id: snapshot.session, token: snapshot.token)
        delivery.received = snapshot.received
        delivery.nextToDeliver = snapshot.nextToDeliver
        delivery.buffered = Dictionary(uniqueKeysWithValues: snapshot.buffered.map { ($0.seq, $0) })
        delivery.outstanding = Dictionary(uniqueKeysWithValues: snapshot.outstanding.map { ($0.seq, $0) })
        confirmations.displayed = snapshot.displayed
        confirmations.receiptOnly = snapshot.receiptOnly
        confirmations.valued = snapshot.valued
        confirmations.unsyncedValues = Dictionary(uniqueKeysWithValues: snapshot.unsyncedValues.map { ($0.seq, $0) })
        confirmations.unsyncedNacks = Dictionary(uniqueKeysWithValues: snapshot.unsyncedNacks.map { ($0.seq, $0) })
        confirmations.synced = snapshot.synced
        delivery.highestSeen = max(snapshot.received.highest ?? 0, snapshot.buffered.map(\.seq).max() ?? 0)
        runs.restored = snapshot.openRuns
    }
}

/// An ack set as JSON: `{"upTo": N, "ranges": [[a, b], …]}`, as on the wire.
private struct AckSetCoding: Codable {
    var upTo: Seq
    var ranges: [[Seq]]

    init(_ set: AckSet) {
        upTo = set.upTo
        ranges = set.ranges.map { [$0.lowerBound, $0.upperBound] }
    }

    func set() throws -> AckSet {
        let bounds = try ranges.map { pair -> ClosedRange<Seq> in
            guard pair.count == 2, pair[0] <= pair[1] else {
                throw EventAckError(code: .invalidAck, message: "a range is [low, high]")
            }
            return pair[0]...pair[1]
        }
        return try AckSet(upTo: upTo, ranges: bounds)
    }
}

private struct ValueCoding: Codable {
    var seq: Seq
    var signal: String?
    var score: Double?

    init(_ confirmation: ValueConfirmation) {
        (seq, signal, score) = (confirmation.seq, confirmation.signal, confirmation.score)
    }

    var confirmation: ValueConfirmation { ValueConfirmation(seq: seq, signal: signal, score: score) }
}
