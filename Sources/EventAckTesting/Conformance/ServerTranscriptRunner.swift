import EventAckProtocol
import EventAckReconciler

/// Runs a server-role transcript against ``Reconciler``.
struct ServerTranscriptRunner: TranscriptRunner {
    static let start: UInt64 = 1_763_712_000_000

    var machine: Reconciler
    var now = start
    var connections: [String: ConnectionID] = [:]
    var outbox = TranscriptOutbox()
    var reports: [TranscriptJSON] = []

    init(config: [String: TranscriptJSON]) throws(StepFailure) {
        var configuration = ReconcilerConfiguration()
        configuration.retransmission.jitter = 0
        for (key, value) in config {
            func integer() throws(StepFailure) -> UInt64 {
                guard let number = value.integer else { throw StepFailure(message: "\(key) must be an integer") }
                return number
            }
            func deadline() throws(StepFailure) -> LevelDeadline? {
                if value == .null { return nil }
                guard let overdue = value["overdueAfterMs"]?.integer, let fail = value["failAfterMs"]?.integer else {
                    throw StepFailure(message: "\(key) needs overdueAfterMs and failAfterMs, or null")
                }
                return LevelDeadline(overdueAfterMs: overdue, failAfterMs: fail)
            }
            switch key {
            case "window": configuration.window = try integer()
            case "maxQueuedEvents": configuration.maxQueuedEvents = Int(try integer())
            case "maxSessionsPerPrincipal": configuration.maxSessionsPerPrincipal = Int(try integer())
            case "heartbeatMs": configuration.heartbeatMs = try integer()
            case "maxFrameBytes": configuration.maxFrameBytes = Int(try integer())
            case "ackDelayMs": configuration.ackDelayMs = try integer()
            case "resumeWindowMs": configuration.resumeWindowMs = try integer()
            case "retransmitInitialMs": configuration.retransmission.initialDelayMs = try integer()
            case "retransmitMaxAttempts": configuration.retransmission.maxAttempts = try integer()
            case "displayDeadline": configuration.displayDeadline = try deadline()
            case "valueDeadline": configuration.valueDeadline = try deadline()
            case "runProfile":
                switch value.string {
                case "none": configuration.runProfile = nil
                case let name? where RunProfile.builtIn[name] != nil:
                    configuration.runProfile = RunProfile.builtIn[name]
                default: throw StepFailure(message: "runProfile is \"agent\", \"ag-ui\" or \"none\"")
                }
            default: throw StepFailure(message: "unknown server setting \(key)")
            }
        }
        machine = Reconciler(configuration: configuration, random: SplitMix64(seed: 1))
    }

    mutating func perform(_ step: TranscriptJSON) throws(StepFailure) {
        try advanceTime(as: step)
        if let name = step["connect"]?.string {
            connections[name] = machine.open(principal: step["principal"]?.string ?? "alice", now: now)
        }
        if let frame = step["in"] {
            let connection = try self.connection(step)
            collect(machine.frameReceived(outbox.variables.substitute(frame).description, on: connection, now: now))
        }
        if let raw = step["inRaw"]?.string {
            collect(machine.frameReceived(raw, on: try connection(step), now: now))
        }
        if let name = step["disconnect"]?.string {
            guard let connection = connections[name] else { throw StepFailure(message: "no connection \(name)") }
            collect(machine.connectionClosed(connection, now: now))
        }
        if let emit = step["emit"] { try self.emit(emit, step: step) }
        if let progress = step["progress"] {
            let session = try self.session(step)
            let run = progress["run"]?.string ?? ""
            let note = progress["note"]?.string
            switch Result(catching: { () throws(ReconcilerError) in
                try machine.progress(run: run, note: note, in: session, now: now)
            }) {
            case .success(let actions): collect(actions)
            case .failure(let error): throw StepFailure(message: "progress failed: \(error)")
            }
        }
        if step["shutdown"] != nil { collect(machine.shutdown(now: now)) }
        if let expected = step["out"] { try outbox.check(expected, unordered: step["unordered"] == .bool(true)) }
        if let expected = step["reports"] { try checkReports(expected) }
    }

    private mutating func emit(_ emit: TranscriptJSON, step: TranscriptJSON) throws(StepFailure) {
        let session = try self.session(step)
        let payload: Payload
        do {
            payload = try Payload(json: (emit["payload"] ?? .object([:])).description)
        } catch {
            throw StepFailure(message: "bad payload: \(error)")
        }
        let confirm = emit["confirm"]?.string.flatMap(ConfirmationLevel.init(rawValue:)) ?? .receipt
        let run = emit["run"]?.string ?? ""
        let kind = emit["kind"]?.string ?? ""
        let outcome = Result { () throws(ReconcilerError) in
            try machine.emit(run: run, kind: kind, payload: payload, confirm: confirm, to: session, now: now)
        }
        switch (outcome, step["error"]?.string) {
        case (.success(let emission), nil): collect(emission.actions)
        case (.success, let code?): throw StepFailure(message: "emit should fail with \(code)")
        case (.failure(let error), let code):
            if error.code != code { throw StepFailure(message: "emit failed: \(error)") }
        }
    }

    private func connection(_ step: TranscriptJSON) throws(StepFailure) -> ConnectionID {
        guard let name = step["on"]?.string, let connection = connections[name] else {
            throw StepFailure(message: "`on` must name a connected connection")
        }
        return connection
    }

    private func session(_ step: TranscriptJSON) throws(StepFailure) -> SessionID {
        guard let value = step["session"], case .string(let id) = outbox.variables.substitute(value) else {
            throw StepFailure(message: "`session` must be a session id or a bound variable")
        }
        return SessionID(id)
    }

    var origin: UInt64 { Self.start }
    var nextDeadline: UInt64? { machine.nextDeadline }

    mutating func fireTimers() {
        collect(machine.timerFired(now: now))
    }

    private mutating func collect(_ actions: [ReconcilerAction]) {
        let names = Dictionary(uniqueKeysWithValues: connections.map { ($0.value, $0.key) })
        let codec = MessageCodec()
        for action in actions {
            switch action {
            case .send(let message, let connection):
                outbox.items.append(.frame(codec.encode(message), to: names[connection]))
            case .close(let connection, _):
                outbox.items.append(.close(names[connection]))
            case .report(let event):
                reports.append(Self.describe(event))
            case .persist, .load:
                break  // the transcripts' reconciler keeps its sessions in memory
            }
        }
    }

    /// Each expected report must occur among the reports since the last check, each matching a different one, in
    /// any order; other reports may occur too.
    private mutating func checkReports(_ expected: TranscriptJSON) throws(StepFailure) {
        guard case .array(let patterns) = expected else { throw StepFailure(message: "`reports` must be an array") }
        defer { reports = [] }
        var unused = reports
        for pattern in patterns {
            guard let found = unused.firstIndex(where: { outbox.variables.match(pattern, $0) }) else {
                throw StepFailure(
                    message: "no report matches \(pattern); reported:\n    "
                        + reports.map(\.description).joined(separator: "\n    "))
            }
            unused.remove(at: found)
        }
    }

    /// A reconciliation event as the JSON that `reports` patterns match.
    static func describe(_ event: ReconciliationEvent) -> TranscriptJSON {
        func object(_ type: String, _ members: [String: TranscriptJSON]) -> TranscriptJSON {
            .object(members.merging(["type": .string(type)]) { a, _ in a })
        }
        func reference(_ reference: EventReference) -> [String: TranscriptJSON] {
            [
                "session": .string(reference.session.rawValue), "run": .string(reference.run),
                "seq": .number(Double(reference.seq)), "kind": .string(reference.kind),
            ]
        }
        switch event {
        case .sessionOpened(let session, let principal, _, let resumed):
            return object(
                "sessionOpened",
                ["session": .string(session.rawValue), "principal": .string(principal), "resumed": .bool(resumed)])
        case .resumeRejected(let requested, let principal, _):
            return object("resumeRejected", ["session": .string(requested.rawValue), "principal": .string(principal)])
        case .sessionDetached(let session, _, _):
            return object("sessionDetached", ["session": .string(session.rawValue)])
        case .sessionExpired(let session, _, let unconfirmed):
            return object(
                "sessionExpired", ["session": .string(session.rawValue), "unconfirmed": .number(Double(unconfirmed))])
        case .confirmed(let ref, let level, _):
            return object("confirmed", reference(ref).merging(["level": .string(level.rawValue)]) { a, _ in a })
        case .overdue(let ref, let level, _):
            return object("overdue", reference(ref).merging(["level": .string(level.rawValue)]) { a, _ in a })
        case .failed(let ref, let level, let reason):
            return object(
                "failed",
                reference(ref).merging(["level": .string(level.rawValue), "reason": .string(reason.rawValue)]) { a, _ in
                    a
                })
        case .sloBreached(let run, _, let breach):
            return object("sloBreached", ["run": .string(run), "slo": .string(breach.name)])
        case .runFinished(let report):
            return object(
                "runFinished",
                [
                    "run": .string(report.run), "verdict": .string(report.verdict.rawValue),
                    "failures": .array(report.failures.map { .string($0.code) }),
                    "outcome": report.outcome.map { .string($0.rawValue) } ?? .null,
                ])
        case .protocolError(_, _, let error, let fatal):
            return object("protocolError", ["code": .string(error.code.rawValue), "fatal": .bool(fatal)])
        case .clientError(_, _, let error):
            return object("clientError", ["code": .string(error.code.rawValue)])
        case .storeFailed(let message):
            return object("storeFailed", ["message": .string(message)])
        }
    }
}
