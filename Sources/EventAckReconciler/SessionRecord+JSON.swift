import EventAckProtocol

extension SessionRecord {
    /// Records as one compact JSON array, each record in the format of its `Codable` conformance (a store reads it
    /// back with `JSONDecoder` as `[SessionRecord]`).
    ///
    /// Written directly rather than through `JSONEncoder`, which cost a durable server more per event than the rest
    /// of its write path (a run's verdict too: ``RunReport/json()``). A store that
    /// keeps a session's records of one commit as one row uses ``jsonArraysBySession(_:)``, which groups and writes in
    /// one pass.
    public static func jsonArray(_ records: some Collection<SessionRecord>) -> String {
        var writer = JSONWriter(capacity: 2 + records.count * 400)
        writer.array(records) { writer, record in record.write(into: &writer) }
        return writer.text
    }

    /// Records grouped by session in one pass: each session's records as one compact JSON array (UTF-8, in their
    /// order, read back with `JSONDecoder` as `[SessionRecord]`), sessions in the order of their first record.
    ///
    /// What a store that keeps one row per session per commit needs, without copying the records into groups first
    /// nor making a `String` of each array: at high rates both cost a durable server more than writing the JSON.
    public static func jsonArraysBySession(
        _ records: some Collection<SessionRecord>
    ) -> [(session: SessionID, json: [UInt8])] {
        var groups: [(session: SessionID, writer: JSONWriter)] = []
        var indexOf: [SessionID: Int] = [:]
        for record in records {
            // Consecutive records of one session, the common case, skip hashing its id.
            let last = groups.indices.last.flatMap { groups[$0].session == record.session ? $0 : nil }
            if let index = last ?? indexOf[record.session] {
                groups[index].writer.comma()
                record.write(into: &groups[index].writer)
            } else {
                indexOf[record.session] = groups.count
                // Most commits carry one busy session: start large for the first, small for the others.
                var writer = JSONWriter(capacity: groups.isEmpty ? 2 + records.count * 400 : 1024)
                writer.beginArray()
                record.write(into: &writer)
                groups.append((record.session, writer))
            }
        }
        // Closed in place: closing a copy would copy each group's bytes.
        for index in groups.indices { groups[index].writer.endArray() }
        return groups.map { ($0.session, $0.writer.bytes) }
    }

    /// The record as compact JSON, in the format of its `Codable` conformance.
    public func json() -> String {
        var writer = JSONWriter(capacity: 400)
        write(into: &writer)
        return writer.text
    }

    /// Members in the order `encode(to:)` writes them; optional members only when present, as `encodeIfPresent`.
    func write(into writer: inout JSONWriter) {
        writer.beginObject()
        writer.key("session", first: true)
        writer.string(session.rawValue)
        writer.key("kind")
        writer.string(kind)
        change.write(into: &writer)
        writer.endObject()
    }

    /// The members `opened` and `resumed` end with: what the connection negotiated, and when.
    static func writeConnection(
        version: ProtocolVersion, window: UInt64, at: UInt64, into writer: inout JSONWriter
    ) {
        writer.key("version")
        writer.string(version.description)
        writer.key("window")
        writer.integer(window)
        writer.key("at")
        writer.integer(at)
    }
}

extension SessionRecord.Change {
    /// The change's members, after the record's `session` and `kind`.
    func write(into writer: inout JSONWriter) {
        switch self {
        case .opened(let principal, let token, let version, let window, let at):
            writer.key("principal")
            writer.string(principal)
            writer.key("token")
            writer.string(token)
            SessionRecord.writeConnection(version: version, window: window, at: at, into: &writer)
        case .resumed(let token, let previousToken, let previousValidUntil, let version, let window, let at):
            writer.key("token")
            writer.string(token)
            if let previousToken {
                writer.key("previousToken")
                writer.string(previousToken)
            }
            writer.key("previousValidUntil")
            writer.integer(previousValidUntil)
            SessionRecord.writeConnection(version: version, window: window, at: at, into: &writer)
        case .emitted:
            writeEmitted(into: &writer)
        case .confirmed(let level, let seqs, let at):
            writer.key("level")
            writer.string(level.rawValue)
            writer.key("upTo")
            writer.integer(seqs.upTo)
            writer.key("ranges")
            writer.ranges(seqs.ranges)
            writer.key("at")
            writer.integer(at)
        case .failed(let seq, let reason, let at):
            writer.key("seq")
            writer.integer(seq)
            writer.key("reason")
            writer.string(reason.rawValue)
            writer.key("at")
            writer.integer(at)
        case .runFinished(let report):
            writer.key("report")
            report.write(into: &writer)
        case .ended(let at):
            writer.key("at")
            writer.integer(at)
        case .runRequested(let run, let at, let idleTimeoutMs, let reportsConfirmations, let profile):
            writer.key("run")
            writer.string(run)
            writer.key("at")
            writer.integer(at)
            if let idleTimeoutMs {
                writer.key("idleTimeoutMs")
                writer.integer(idleTimeoutMs)
            }
            if reportsConfirmations {
                writer.key("reportsConfirmations")
                writer.bool(true)
            }
            if let profile {
                writer.key("profile")
                writer.string(profile)
            }
        }
    }

    /// An `emitted` record's members.
    private func writeEmitted(into writer: inout JSONWriter) {
        guard
            case .emitted(let seq, let run, let kind, let ts, let confirm, let endsRun, let payload, let origin) = self
        else { return }
        writer.key("seq")
        writer.integer(seq)
        writer.key("run")
        writer.string(run)
        writer.key("eventKind")
        writer.string(kind)
        writer.key("ts")
        writer.integer(ts)
        writer.key("confirm")
        writer.string(confirm.rawValue)
        writer.key("endsRun")
        writer.bool(endsRun)
        // A string, as `Codable` has it: the payload is JSON text, kept as the client received it.
        writer.key("payload")
        writer.string(payload.json)
        if let origin {
            writer.key("origin")
            writer.string(origin)
        }
    }
}
