import EventAckProtocol
import EventAckReconciler

/// What a simulated user means to do with an event, decided when it is emitted so that the expected outcome is
/// known even if the event never arrives.
enum UserIntent: Sendable, Hashable {
    /// Receipt-only events: the client SDK confirms them by itself.
    case none
    case confirm
    case never
    case reject(ConfirmationLevel)

    /// Why a simulated user rejects at `level`: the display failed, or the value was not wanted.
    static func rejectionReason(at level: ConfirmationLevel) -> NackReason {
        level == .display ? .renderFailed : .rejected
    }
}

/// The simulator's own account of what happened, kept apart from the reconciler's figures so that the two can be
/// compared: every emission and the outcome the reconciler reported for it, and what each client received,
/// delivered and confirmed.
struct SimulationLedger {
    struct Emission {
        let session: SessionID
        let seq: Seq
        let run: String
        let level: ConfirmationLevel
        let intent: UserIntent
        var outcome: Outcome?
    }

    enum Outcome: Hashable {
        case confirmed
        case failed(ConfirmationLevel, FailureReason)
    }

    /// What one client session saw and did.
    struct ClientSession {
        var received = Set<Seq>()
        var lastDelivered: Seq = 0
        var displayed = Set<Seq>()
        var valued = Set<Seq>()
    }

    struct RunRecord {
        let session: SessionID
        var emissions: [Int] = []
        var verdict: RunVerdict?
        /// The agent runs (indices in the simulation) whose events went to this (session, run id): one, unless two
        /// runs were merged under one id.
        var agentRuns: Set<Int> = []
    }

    /// Runs are told apart by session and id: an id names a run within its session (EA-RUN-1).
    static func runKey(_ session: SessionID, _ run: String) -> String { "\(session)/\(run)" }

    var emissions: [Emission] = []
    var emissionBySeq: [SessionID: [Seq: Int]] = [:]
    var clientSessions: [String: ClientSession] = [:]
    var runs: [String: RunRecord] = [:]
    /// Event frames the reconciler sent with `attempt > 1`, counted on the wire.
    var retransmittedFrames: UInt64 = 0
    /// Sessions whose client process restarted: nobody can confirm their events any more.
    var orphanedSessions = Set<String>()
    /// Sessions that went through a resume storm: their events may fail `receipt_timeout` by design (EA-RTX-4).
    var stormedSessions = Set<String>()
    var abandonedEmits = 0
    var protocolErrors = 0
    var sessionsExpired = 0
    var violations: [String] = []
    /// Duplicates found in the store, each reported once.
    var reportedDuplicates: Set<String> = []

    // MARK: Reconciler side

    mutating func emitted(
        eid: Int, session: SessionID, seq: Seq, run: String, agentRun: Int, level: ConfirmationLevel,
        intent: UserIntent
    ) {
        precondition(eid == emissions.count, "eids are dense")
        emissions.append(Emission(session: session, seq: seq, run: run, level: level, intent: intent))
        emissionBySeq[session, default: [:]][seq] = eid
        let key = Self.runKey(session, run)
        runs[key, default: RunRecord(session: session)].emissions.append(eid)
        // Invariant: no run's events are attributed to another run.
        if runs[key]!.agentRuns.insert(agentRun).inserted, runs[key]!.agentRuns.count == 2 {
            violations.append("run \(run) of session \(session) holds the events of two agent runs: merged")
        }
    }

    mutating func record(_ event: ReconciliationEvent) {
        switch event {
        case .confirmed(let reference, let level, _):
            guard let eid = settle(reference, as: .confirmed) else { return }
            let emission = emissions[eid]
            if level != emission.level {
                violations.append(
                    "\(reference) confirmed at \(level.rawValue), but it asks for \(emission.level.rawValue)")
            }
            checkClientConfirmed(reference, level: level)
        case .failed(let reference, let level, let reason):
            _ = settle(reference, as: .failed(level, reason))
        case .runFinished(let report):
            let key = Self.runKey(report.session, report.run)
            if runs[key] == nil { runs[key] = RunRecord(session: report.session) }
            if runs[key]!.verdict != nil { violations.append("run \(key) has a second verdict") }
            runs[key]!.verdict = report.verdict
        case .protocolError:
            protocolErrors += 1
        case .sessionExpired:
            sessionsExpired += 1
        default:
            break
        }
    }

    /// Invariant 1's bookkeeping: each emission is settled once.
    private mutating func settle(_ reference: EventReference, as outcome: Outcome) -> Int? {
        guard let eid = emissionBySeq[reference.session]?[reference.seq] else {
            violations.append("\(reference) settled, but it was never emitted")
            return nil
        }
        if let earlier = emissions[eid].outcome {
            violations.append("\(reference) settled twice: \(earlier), then \(outcome)")
            return nil
        }
        emissions[eid].outcome = outcome
        return eid
    }

    /// Invariant 2: the reconciler never confirms a level the client did not confirm.
    private mutating func checkClientConfirmed(_ reference: EventReference, level: ConfirmationLevel) {
        let client = clientSessions[reference.session.rawValue] ?? ClientSession()
        let confirmed: Bool
        switch level {
        case .receipt: confirmed = client.received.contains(reference.seq)
        case .display: confirmed = client.displayed.contains(reference.seq) || client.valued.contains(reference.seq)
        case .value: confirmed = client.valued.contains(reference.seq)
        }
        if !confirmed {
            violations.append("false confirmation: \(reference) confirmed at \(level.rawValue), the client never did")
        }
    }

    // MARK: Client side

    /// A client connected to `session` accepted an event frame: check that it belongs there (invariant 3).
    mutating func received(seq: Seq, eid: Int?, session: String) {
        checkOwnership(seq: seq, eid: eid, session: session, what: "received")
        clientSessions[session, default: ClientSession()].received.insert(seq)
    }

    /// A client handed an event to its app: exactly once, in order, of its own session (invariant 3).
    mutating func delivered(seq: Seq, eid: Int?, session: String) {
        checkOwnership(seq: seq, eid: eid, session: session, what: "delivered")
        let last = clientSessions[session, default: ClientSession()].lastDelivered
        if seq != last + 1 {
            violations.append("session \(session) delivered seq \(seq) after \(last): not exactly once in order")
        }
        clientSessions[session]!.lastDelivered = max(last, seq)
    }

    /// The client skipped seqs as lost (EA-SYNC-5): each must have failed at receipt on the server.
    mutating func skipped(_ seqs: [Seq], session: String) {
        for seq in seqs {
            let eid = emissionBySeq[SessionID(session)]?[seq]
            guard let eid, case .failed(.receipt, _)? = emissions[eid].outcome else {
                violations.append("session \(session) skipped seq \(seq) as lost, but the server did not fail it")
                continue
            }
            let last = clientSessions[session, default: ClientSession()].lastDelivered
            if seq != last + 1 {
                violations.append("session \(session) skipped seq \(seq) after \(last): out of order")
            }
            clientSessions[session]!.lastDelivered = max(last, seq)
        }
    }

    mutating func displayed(seq: Seq, session: String) {
        clientSessions[session, default: ClientSession()].displayed.insert(seq)
    }

    mutating func valued(seq: Seq, session: String) {
        clientSessions[session, default: ClientSession()].valued.insert(seq)
    }

    private mutating func checkOwnership(seq: Seq, eid: Int?, session: String, what: String) {
        guard let eid, eid >= 0, eid < emissions.count else {
            violations.append("session \(session) \(what) seq \(seq) with no known emission id")
            return
        }
        let emission = emissions[eid]
        if emission.session.rawValue != session || emission.seq != seq {
            violations.append(
                "session \(session) \(what) seq \(seq), which is seq \(emission.seq) of session \(emission.session)")
        }
    }
}
