import EventAckProtocol
import EventAckReconciler

/// A reconciler driven by hand: virtual time, frames written as messages, helpers to read the actions.
struct ReconcilerHarness {
    static let start: UInt64 = 1_763_712_000_000

    var machine: Reconciler
    var now = start
    let codec = MessageCodec()

    /// A harness with exact deadlines (no jitter) unless `configure` says otherwise.
    init(seed: UInt64 = 1, writesAhead: Bool = false, _ configure: (inout ReconcilerConfiguration) -> Void = { _ in }) {
        var configuration = ReconcilerConfiguration()
        configuration.retransmission.jitter = 0
        configure(&configuration)
        machine = Reconciler(configuration: configuration, random: SplitMix64(seed: seed), writesAhead: writesAhead)
    }

    static func hello(window: UInt64? = nil, resume: ResumeRequest? = nil, versions: [String] = ["1.0"]) -> Message {
        .hello(
            Hello(
                versions: versions.compactMap(ProtocolVersion.init), client: ClientInfo(name: "test", version: "1"),
                window: window, resume: resume))
    }

    mutating func open(_ principal: String = "alice") -> ConnectionID {
        machine.open(principal: principal, now: now)
    }

    mutating func receive(_ message: Message, on connection: ConnectionID) -> [ReconcilerAction] {
        machine.frameReceived(codec.encode(message), on: connection, now: now)
    }

    mutating func receive(json: String, on connection: ConnectionID) -> [ReconcilerAction] {
        machine.frameReceived(json, on: connection, now: now)
    }

    /// Opens a connection and completes a fresh handshake.
    mutating func connect(_ principal: String = "alice", window: UInt64? = nil) -> (ConnectionID, Welcome) {
        let connection = open(principal)
        let actions = receive(Self.hello(window: window), on: connection)
        guard let welcome = actions.welcomes.first else { preconditionFailure("no welcome in \(actions)") }
        return (connection, welcome)
    }

    mutating func emit(
        _ kind: String,
        run: String = "run_1",
        payload: String = "{}",
        confirm: ConfirmationLevel = .receipt,
        to session: String
    ) -> Emission {
        try! machine.emit(
            run: run, kind: kind, payload: try! Payload(json: payload), confirm: confirm, to: SessionID(session),
            now: now)
    }

    mutating func ack(
        receipt: AckSet? = nil,
        display: AckSet? = nil,
        value: [Seq]? = nil,
        on connection: ConnectionID
    ) -> [ReconcilerAction] {
        receive(
            .ack(Ack(receipt: receipt, display: display, value: value?.map { ValueConfirmation(seq: $0) })),
            on: connection)
    }

    /// Moves time forward by `ms` and fires what is due.
    mutating func advance(by ms: UInt64) -> [ReconcilerAction] {
        now += ms
        return machine.timerFired(now: now)
    }

    /// Jumps from deadline to deadline until `limit`, collecting every action.
    mutating func runTimers(until limit: UInt64) -> [ReconcilerAction] {
        var actions: [ReconcilerAction] = []
        while let deadline = machine.nextDeadline, deadline <= limit {
            now = max(now, deadline)
            actions += machine.timerFired(now: now)
        }
        now = max(now, limit)
        return actions + machine.timerFired(now: now)
    }

    func report() -> ConfirmationReport { machine.report(now: now) }
}

func set(_ upTo: Seq, _ ranges: [ClosedRange<Seq>] = []) -> AckSet {
    try! AckSet(upTo: upTo, ranges: ranges)
}

extension Array where Element == ReconcilerAction {
    var messages: [Message] {
        compactMap {
            if case .send(let message, _) = $0 { return message }
            return nil
        }
    }

    var events: [Event] {
        messages.compactMap {
            if case .event(let event) = $0 { return event }
            return nil
        }
    }

    var welcomes: [Welcome] {
        messages.compactMap {
            if case .welcome(let welcome) = $0 { return welcome }
            return nil
        }
    }

    var errors: [ErrorMessage] {
        messages.compactMap {
            if case .error(let error) = $0 { return error }
            return nil
        }
    }

    var synceds: [Synced] {
        messages.compactMap {
            if case .synced(let synced) = $0 { return synced }
            return nil
        }
    }

    var closes: [ConnectionID] {
        compactMap {
            if case .close(let connection, _) = $0 { return connection }
            return nil
        }
    }

    var reports: [ReconciliationEvent] {
        compactMap {
            if case .report(let event) = $0 { return event }
            return nil
        }
    }

    var failures: [(seq: Seq, level: ConfirmationLevel, reason: FailureReason)] {
        reports.compactMap {
            if case .failed(let reference, let level, let reason) = $0 { return (reference.seq, level, reason) }
            return nil
        }
    }

    var finishedRuns: [RunReport] {
        reports.compactMap {
            if case .runFinished(let report) = $0 { return report }
            return nil
        }
    }
}
