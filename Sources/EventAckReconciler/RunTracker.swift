import EventAckProtocol

/// Validates one run against its profile as its events are emitted, and follows their confirmation to a verdict.
struct RunTracker: Sendable {
    /// Failures listed per run; beyond that they are only counted, so a broken emitter cannot grow memory.
    static let maxListedFailures = 64

    let id: String
    var requestedAt: UInt64?
    var startedAt: UInt64?
    var endedAt: UInt64?
    var terminalKind: String?
    var outcome: RunOutcome?
    /// When each kind first occurred (for ordering rules and SLOs).
    var firstSeen: [String: UInt64] = [:]
    /// Open calls by pairing index and call id, with their open time.
    var openCalls: [CallKey: UInt64] = [:]
    /// Events emitted and not yet confirmed at their level or failed.
    var unresolvedEvents = 0
    var failures: [RunFailure] = []
    var omittedFailures = 0
    var warnings: [SLOBreach] = []
    var stats = ConfirmationStats()

    struct CallKey: Hashable, Sendable {
        var pairing: Int
        var call: String
    }

    init(id: String, requestedAt: UInt64? = nil) {
        self.id = id
        self.requestedAt = requestedAt
    }

    /// The emitter said an event was the run's last (`endsRun`), whatever the profile says.
    var endedByEmitter = false
    /// Whether each of its events confirmed at its level is reported (``ReconciliationEvent/confirmed(_:level:latencyMs:)``)
    /// even when the configuration reports confirmations only in aggregate: a run someone follows (the publish API).
    var reportsConfirmations = false
    /// When the producer was last heard from: its last emit, progress note or request (EA-RUN-2).
    var lastHeardAt: UInt64?
    /// This run's idle timeout, if it names one; else the configuration's.
    var idleTimeoutMs: UInt64?
    /// The profile this run named when it was requested (one of the configuration's `runProfiles`); `nil`: the
    /// configuration's `runProfile`.
    var profileName: String?
    /// Why the server ended the run itself (`agent_silent`), if it did.
    var endedBy: String?

    /// The reason the server puts in the failure terminal it emits for a silent run, and in the report.
    static let silenceReason = "agent_silent"
    /// The `origin` recorded with the terminal event the server emits for a silent run. It, not the payload (which
    /// a producer could imitate), is what marks a run as ended by the server: only the host sets origins.
    static let silenceOrigin = "eventack:agent_silent"

    /// When the run goes silent if nothing more is heard from its producer; `nil` when it has ended or has no
    /// idle timeout.
    func idleDeadline(defaultTimeoutMs: UInt64?) -> UInt64? {
        guard !isClosed, let lastHeardAt, let timeout = idleTimeoutMs ?? defaultTimeoutMs else { return nil }
        return lastHeardAt + timeout
    }

    /// Whether the run has ended: its terminal event (or one its emitter said ends it) was emitted. Later emits for
    /// it are refused (EA-RUN-1).
    var isClosed: Bool { terminalKind != nil || endedByEmitter }

    /// Whether the run has its verdict: ended and nothing left to confirm.
    var isFinished: Bool { terminalKind != nil && unresolvedEvents == 0 }

    var verdict: RunVerdict {
        if !failures.isEmpty || omittedFailures > 0 { return .failed }
        return isFinished ? .confirmed : .pending
    }

    mutating func fail(_ failure: RunFailure) {
        if failures.count < Self.maxListedFailures {
            failures.append(failure)
        } else {
            omittedFailures += 1
        }
    }

    /// Checks an emitted event against the profile; returns the SLO breaches it completes.
    mutating func observe(
        kind: String,
        seq: Seq,
        at time: UInt64,
        payload: Payload,
        origin: String?,
        profile: RunProfile?
    ) -> [SLOBreach] {
        unresolvedEvents += 1
        lastHeardAt = max(lastHeardAt ?? time, time)
        let isFirstEvent = startedAt == nil
        if isFirstEvent { startedAt = time }
        guard let profile else {
            firstSeen[kind] = firstSeen[kind] ?? time
            return []
        }
        let pairingIndex = profile.pairings.firstIndex { $0.covers(kind) }
        checkSequence(kind: kind, seq: seq, isFirstEvent: isFirstEvent, pairingIndex: pairingIndex, profile: profile)
        for member in profile.requiredContent[kind] ?? [] where !(payload[member: member]?.isNonEmpty ?? false) {
            fail(RunFailure(code: "empty_content", detail: "\(kind) has no content in payload.\(member)", seq: seq))
        }
        var breaches: [SLOBreach] = []
        if let pairingIndex {
            breaches += observeCall(kind, seq: seq, at: time, payload: payload, pairingIndex, profile)
        }
        let firstOfKind = firstSeen[kind] == nil
        if firstOfKind { firstSeen[kind] = time }
        if firstOfKind { breaches += measureSLOs(endingAt: kind, seq: seq, at: time, profile: profile) }
        if profile.terminalKinds.contains(kind), terminalKind == nil {
            close(with: kind, at: time, endedBySilence: origin == Self.silenceOrigin, profile: profile)
        }
        warnings += breaches
        return breaches
    }

    /// The profile's rules on where `kind` may come: after the terminal, first, known, after what it requires.
    private mutating func checkSequence(
        kind: String, seq: Seq, isFirstEvent: Bool, pairingIndex: Int?, profile: RunProfile
    ) {
        if let terminalKind {
            fail(RunFailure(code: "after_terminal", detail: "\(kind) after \(terminalKind)", seq: seq))
        }
        let isStart = profile.startKinds.contains(kind)
        // A run may fail before it starts: its failure terminal may come first (AG-UI's RUN_ERROR).
        if isFirstEvent && !isStart && !profile.failureKinds.contains(kind) {
            let expected = profile.startKinds.sorted().joined(separator: " or ")
            fail(RunFailure(code: "missing_start", detail: "first event is \(kind), not \(expected)", seq: seq))
        } else if !isFirstEvent && isStart {
            fail(RunFailure(code: "out_of_order", detail: "\(kind) again after the run started", seq: seq))
        }
        if !isStart, !profile.terminalKinds.contains(kind), pairingIndex == nil, let allowed = profile.otherKinds,
            !allowed.contains(kind)
        {
            fail(RunFailure(code: "unknown_kind", detail: "\(kind) is not part of profile \(profile.name)", seq: seq))
        }
        for rule in profile.ordering {
            switch rule {
            case .requires(let ruled, let earlier) where ruled == kind && firstSeen[earlier] == nil:
                fail(RunFailure(code: "out_of_order", detail: "\(kind) before any \(earlier)", seq: seq))
            case .forbiddenAfter(let ruled, let later) where ruled == kind && firstSeen[later] != nil:
                fail(RunFailure(code: "out_of_order", detail: "\(kind) after \(later)", seq: seq))
            default:
                break
            }
        }
    }

    /// The run's terminal event: the outcome, and every call still open is a failure — unless the server ended the
    /// run because its agent went silent (EA-RUN-2): those calls died with the agent; the outcome says so, and the
    /// delivery verdict is not charged with them.
    private mutating func close(with kind: String, at time: UInt64, endedBySilence: Bool, profile: RunProfile) {
        terminalKind = kind
        outcome = profile.failureKinds.contains(kind) ? .failed : .succeeded
        endedAt = time
        if outcome == .failed, endedBySilence {
            endedBy = Self.silenceReason
            openCalls = [:]
        }
        for (call, _) in openCalls.sorted(by: { $0.value < $1.value }) {
            let pairing = profile.pairings[call.pairing]
            fail(RunFailure(code: "unpaired_call", detail: "\(pairing.open) \(call.call) never got \(pairing.close)"))
        }
        openCalls = [:]
    }

    private mutating func observeCall(
        _ kind: String,
        seq: Seq,
        at time: UInt64,
        payload: Payload,
        _ index: Int,
        _ profile: RunProfile
    ) -> [SLOBreach] {
        let pairing = profile.pairings[index]
        // A pairing without a key has one call at a time: its id is the empty string.
        let call = pairing.key.map { payload[member: $0]?.stringValue ?? "" } ?? ""
        if let member = pairing.key, call.isEmpty {
            fail(RunFailure(code: "empty_content", detail: "\(kind) has no call id in payload.\(member)", seq: seq))
            return []
        }
        let key = CallKey(pairing: index, call: call)
        if pairing.during.contains(kind) {
            if openCalls[key] == nil {
                let id = call.isEmpty ? "" : " \(call)"
                fail(RunFailure(code: "unpaired_call", detail: "\(kind)\(id) outside \(pairing.open)", seq: seq))
            }
            return []
        }
        if kind == pairing.open {
            if openCalls[key] != nil {
                fail(RunFailure(code: "duplicate_call", detail: "\(kind) \(call) is already open", seq: seq))
            }
            openCalls[key] = time
            return []
        }
        guard let openedAt = openCalls.removeValue(forKey: key) else {
            fail(RunFailure(code: "unpaired_call", detail: "\(kind) \(call) without \(pairing.open)", seq: seq))
            return []
        }
        let measured = time - min(time, openedAt)
        guard let limit = pairing.maxDurationMs, measured > limit else { return [] }
        return [
            SLOBreach(name: "\(pairing.close)_after_\(pairing.open)", measuredMs: measured, limitMs: limit, seq: seq)
        ]
    }

    private func measureSLOs(endingAt kind: String, seq: Seq, at time: UInt64, profile: RunProfile) -> [SLOBreach] {
        var breaches: [SLOBreach] = []
        for slo in profile.slos where slo.to == .first(kind) {
            let start: UInt64?
            switch slo.from {
            case .request: start = requestedAt
            case .first(let fromKind): start = firstSeen[fromKind]
            }
            guard let start else { continue }
            let measured = time - min(time, start)
            if measured > slo.limitMs {
                breaches.append(SLOBreach(name: slo.name, measuredMs: measured, limitMs: slo.limitMs, seq: seq))
            }
        }
        return breaches
    }

    /// The session ended before the run did: it can no longer finish.
    mutating func sessionEnded(reason: FailureReason) {
        guard terminalKind == nil else { return }
        fail(RunFailure(code: "incomplete", detail: "the session ended (\(reason)) before a terminal event"))
    }

    func report(session: SessionID, principal: String) -> RunReport {
        RunReport(
            run: id, session: session, principal: principal, verdict: verdict, outcome: outcome, failures: failures,
            omittedFailures: omittedFailures, warnings: warnings, requestedAt: requestedAt, startedAt: startedAt,
            endedAt: endedAt, terminalKind: terminalKind, endedBy: endedBy, stats: stats)
    }
}

extension Payload {
    /// The payload of the failure terminal the server emits for a run whose producer went silent (EA-RUN-2).
    static func silentRun(idleMs: UInt64) -> Payload {
        let error = "the agent stopped responding: nothing from it for \(idleMs) ms"
        // Only digits and fixed text: valid JSON as written. `message` and `code` too, as an AG-UI RUN_ERROR has them.
        let reason = RunTracker.silenceReason
        return
            (try? Payload(
                json: #"{"error":"\#(error)","reason":"\#(reason)","message":"\#(error)","code":"\#(reason)"}"#))
            ?? .empty
    }
}
