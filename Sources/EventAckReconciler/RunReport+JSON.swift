import EventAckProtocol

/// A run's report as compact JSON, written directly in the format of its `Codable` conformance (`JSONDecoder` reads
/// it back as a ``RunReport``): a durable server writes one per finished run into its store, and `JSONEncoder` took
/// about 100 µs for it — for runs of a few dozen events, more than everything else the server did for them.
extension RunReport {
    /// The report as compact JSON: members in declaration order, `nil` members left out, failure reasons by name.
    public func json() -> String {
        var writer = JSONWriter(capacity: 1024)
        write(into: &writer)
        return writer.text
    }

    func write(into writer: inout JSONWriter) {
        writer.beginObject()
        writer.key("run", first: true)
        writer.string(run)
        writer.key("session")
        writer.string(session.rawValue)
        writer.key("principal")
        writer.string(principal)
        writer.key("verdict")
        writer.string(verdict.rawValue)
        if let outcome {
            writer.key("outcome")
            writer.string(outcome.rawValue)
        }
        writer.key("failures")
        writer.array(failures) { writer, failure in failure.write(into: &writer) }
        writer.key("omittedFailures")
        writer.integer(UInt64(max(0, omittedFailures)))  // a count
        writer.key("warnings")
        writer.array(warnings) { writer, warning in warning.write(into: &writer) }
        if let requestedAt {
            writer.key("requestedAt")
            writer.integer(requestedAt)
        }
        if let startedAt {
            writer.key("startedAt")
            writer.integer(startedAt)
        }
        if let endedAt {
            writer.key("endedAt")
            writer.integer(endedAt)
        }
        if let terminalKind {
            writer.key("terminalKind")
            writer.string(terminalKind)
        }
        if let endedBy {
            writer.key("endedBy")
            writer.string(endedBy)
        }
        writer.key("stats")
        stats.write(into: &writer)
        writer.endObject()
    }
}

extension RunFailure {
    func write(into writer: inout JSONWriter) {
        writer.beginObject()
        writer.key("code", first: true)
        writer.string(code)
        writer.key("detail")
        writer.string(detail)
        if let seq {
            writer.key("seq")
            writer.integer(seq)
        }
        writer.endObject()
    }
}

extension SLOBreach {
    func write(into writer: inout JSONWriter) {
        writer.beginObject()
        writer.key("name", first: true)
        writer.string(name)
        writer.key("measuredMs")
        writer.integer(measuredMs)
        writer.key("limitMs")
        writer.integer(limitMs)
        writer.key("seq")
        writer.integer(seq)
        writer.endObject()
    }
}

extension ConfirmationStats {
    func write(into writer: inout JSONWriter) {
        writer.beginObject()
        writer.key("events", first: true)
        writer.integer(events)
        writer.key("receipt")
        receipt.write(into: &writer)
        writer.key("display")
        display.write(into: &writer)
        writer.key("value")
        value.write(into: &writer)
        writer.key("failuresByReason")
        writer.beginObject()
        for (index, (reason, count)) in failuresByReason.sorted(by: { $0.key < $1.key }).enumerated() {
            if index > 0 { writer.comma() }
            writer.string(reason)
            writer.append(":")
            writer.integer(count)
        }
        writer.endObject()
        writer.key("overdue")
        writer.integer(overdue)
        writer.key("retransmissions")
        writer.integer(retransmissions)
        writer.key("duplicates")
        writer.integer(duplicates)
        writer.key("refusedEmits")
        writer.integer(refusedEmits)
        writer.endObject()
    }
}

extension LevelStats {
    /// Members in the order `encode(to:)` writes them, derived ones (`pending`, `rate`) included.
    func write(into writer: inout JSONWriter) {
        writer.beginObject()
        writer.key("requested", first: true)
        writer.integer(requested)
        writer.key("confirmed")
        writer.integer(confirmed)
        writer.key("failed")
        writer.integer(failed)
        writer.key("pending")
        writer.integer(pending)
        writer.key("rate")
        writer.double(reportedRate)
        writer.key("confirmedAtRequestedLevel")
        writer.integer(confirmedAtRequestedLevel)
        writer.key("latencyMs")
        latencyMs.write(into: &writer)
        writer.endObject()
    }
}
