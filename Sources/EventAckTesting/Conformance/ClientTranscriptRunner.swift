import EventAckClient
import EventAckProtocol

/// Runs a client-role transcript against ``ClientStateMachine``.
struct ClientTranscriptRunner: TranscriptRunner {
    var machine: ClientStateMachine
    var now: UInt64 = 0
    var outbox = TranscriptOutbox()
    var delivered: [Seq] = []
    var signals: [String] = []

    init(config: [String: TranscriptJSON]) throws(StepFailure) {
        var configuration = ClientConfiguration(client: ClientInfo(name: "conformance", version: "1"))
        for (key, value) in config {
            guard let number = value.integer else { throw StepFailure(message: "\(key) must be an integer") }
            switch key {
            case "window": configuration.window = number
            case "ackBatchSize": configuration.ackBatchSize = max(1, Int(number))
            case "reorderBufferLimit": configuration.reorderBufferLimit = max(1, Int(number))
            case "runIdleTimeoutMs": configuration.runIdleTimeoutMs = number
            case "confirmationResendMs": configuration.confirmationResendMs = max(1, number)
            case "handshakeTimeoutMs": configuration.handshakeTimeoutMs = max(1, number)
            default: throw StepFailure(message: "unknown client setting \(key)")
            }
        }
        machine = ClientStateMachine(configuration: configuration)
    }

    mutating func perform(_ step: TranscriptJSON) throws(StepFailure) {
        try advanceTime(as: step)
        if step["connect"] != nil { collect(machine.connected(now: now)) }
        if let frame = step["in"] {
            collect(machine.frameReceived(outbox.variables.substitute(frame).description, now: now))
        }
        if let raw = step["inRaw"]?.string { collect(machine.frameReceived(raw, now: now)) }
        if step["disconnect"] != nil { collect(machine.connectionClosed(now: now)) }
        if let app = step["app"]?.string { try appCalls(app, step: step) }
        if let expected = step["out"] { try outbox.check(expected, unordered: step["unordered"] == .bool(true)) }
        if let expected = step["delivered"] {
            defer { delivered = [] }
            let got = TranscriptJSON.array(delivered.map { .number(Double($0)) })
            guard got == expected else { throw StepFailure(message: "delivered \(got), expected \(expected)") }
        }
        if let expected = step["signals"] {
            defer { signals = [] }
            let got = TranscriptJSON.array(signals.map { .string($0) })
            guard got == expected else { throw StepFailure(message: "signalled \(got), expected \(expected)") }
        }
    }

    /// `display`, `value`, `reject` (with `level` and `reason`) or `close`; `error` names the usage error expected.
    private mutating func appCalls(_ call: String, step: TranscriptJSON) throws(StepFailure) {
        let seq = step["seq"]?.integer ?? 0
        let outcome: Result<[ClientAction], ClientUsageError>
        switch call {
        case "display": outcome = Result { () throws(ClientUsageError) in try machine.markDisplayed(seq, now: now) }
        case "value":
            outcome = Result { () throws(ClientUsageError) in
                try machine.confirmValue(seq, signal: step["signal"]?.string, now: now)
            }
        case "reject":
            let level = step["level"]?.string.flatMap(ConfirmationLevel.init(rawValue:)) ?? .display
            let reason = NackReason(rawValue: step["reason"]?.string ?? "rejected")
            outcome = Result { () throws(ClientUsageError) in
                try machine.reject(seq, level: level, reason: reason, now: now)
            }
        case "close": outcome = .success(machine.close(now: now))
        default: throw StepFailure(message: "unknown app call \(call)")
        }
        switch (outcome, step["error"]?.string) {
        case (.success(let actions), nil): collect(actions)
        case (.success, let code?): throw StepFailure(message: "\(call) should fail with \(code)")
        case (.failure(let error), let code):
            if error.code != code { throw StepFailure(message: "\(call) failed: \(error)") }
        }
    }

    var origin: UInt64 { 0 }
    var nextDeadline: UInt64? { machine.nextDeadline }

    mutating func fireTimers() {
        collect(machine.timerFired(now: now))
    }

    private mutating func collect(_ actions: [ClientAction]) {
        let codec = MessageCodec()
        for action in actions {
            switch action {
            case .send(let message): outbox.items.append(.frame(codec.encode(message), to: nil))
            case .deliver(let event): delivered.append(event.seq)
            case .signal(let signal): signals.append(Self.name(of: signal))
            case .closeConnection: outbox.items.append(.close(nil))
            case .closed(let report): signals.append(report.isComplete ? "closed" : "closedIncomplete")
            }
        }
    }

    static func name(of signal: ClientSignal) -> String {
        switch signal {
        case .connected(_, let resumed): resumed ? "resumed" : "connected"
        case .disconnected: "disconnected"
        case .runStalled: "runStalled"
        case .runResumed: "runResumed"
        case .runEnded: "runEnded"
        case .serverError(let error): "serverError:\(error.code.rawValue)"
        case .protocolViolation(let error): "protocolViolation:\(error.code.rawValue)"
        case .sessionReset: "sessionReset"
        case .connectionDead: "connectionDead"
        case .gaveUp: "gaveUp"
        case .connectFailed: "connectFailed"
        case .eventsLost: "eventsLost"
        }
    }
}
