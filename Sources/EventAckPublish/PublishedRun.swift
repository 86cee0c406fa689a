import EventAckProtocol
import EventAckReconciler

/// One run opened through the publish API, as the server keeps it: who gets it, what its producer published
/// (by idempotency key), what the clients confirmed, and the confirmations feed a producer may follow.
struct PublishedRun: Sendable {
    /// An event taken, by its producer's id: the body it came with and its seq in each session.
    struct Accepted: Sendable {
        var body: JSONValue
        var seqs: [SessionID: Seq]
    }

    let run: String
    let request: OpenRunRequest
    let sessions: [SessionID]
    let openedAt: UInt64
    /// When the run ended: its terminal event was taken, or the server ended it.
    var endedAt: UInt64?
    /// Why the server ended the run itself (`agent_silent`, EA-RUN-2), as a session's report says.
    var endedBy: String?
    var accepted: [String: Accepted] = [:]
    var acceptedOrder: [String] = []
    var idBySeq: [SessionID: [Seq: String]] = [:]
    /// Events confirmed at their level in at least one session (EA-PUB-6's rule).
    var confirmedIDs: Set<String> = []
    /// Ids taken while another node served the run (``PublishBook/adopt(_:now:)``).
    var adoptedIDs: Set<String> = []
    /// Each event's last failure, for the verdict's failures.
    var failures: [String: (session: SessionID, level: ConfirmationLevel, reason: String)] = [:]
    /// The verdict of each session that has one.
    var reports: [SessionID: RunReport] = [:]
    /// What a producer following the run is told, in order (EA-PUB-7); the verdict last.
    var feed: [FeedItem] = []

    /// The kinds that end this run by themselves (its profile's terminal kinds).
    let terminalKinds: Set<String>
    /// The level each kind is confirmed at when an event does not say.
    let confirmLevels: [String: ConfirmationLevel]

    init(
        run: String, request: OpenRunRequest, sessions: [SessionID], now: UInt64, terminalKinds: Set<String>,
        confirmLevels: [String: ConfirmationLevel]
    ) {
        self.confirmLevels = confirmLevels
        self.run = run
        self.request = request
        self.sessions = sessions
        self.openedAt = now
        self.terminalKinds = terminalKinds
    }

    var isEnded: Bool { endedAt != nil }
    var isDecided: Bool { feed.last?.event == .verdict }

    /// What `POST /v1/runs` answers for this run.
    var opened: OpenedRun { OpenedRun(run: run, sessions: sessions) }

    mutating func confirmed(_ reference: EventReference, level: ConfirmationLevel, latencyMs: UInt64) {
        guard let id = idBySeq[reference.session]?[reference.seq] else { return }
        confirmedIDs.insert(id)
        feed.append(
            .confirmed(
                index: feed.count + 1, id: id, seq: reference.seq, session: reference.session, level: level,
                latencyMs: latencyMs))
    }

    mutating func failed(_ reference: EventReference, level: ConfirmationLevel, reason: String) {
        guard let id = idBySeq[reference.session]?[reference.seq] else { return }
        failures[id] = (reference.session, level, reason)
        feed.append(
            .failed(
                index: feed.count + 1, id: id, seq: reference.seq, session: reference.session, level: level,
                reason: reason))
    }

    /// A session's verdict (the book has marked the run ended); once every session has one, the run's (EA-PUB-6) goes last on the feed.
    mutating func finished(_ report: RunReport) {
        guard sessions.contains(report.session), !isDecided else { return }
        reports[report.session] = report
        if let by = report.endedBy { endedBy = by }
        guard reports.count == sessions.count else { return }
        feed.append(.verdict(index: feed.count + 1, verdict))
    }

    /// The run's verdict across its sessions: `confirmed` when every event was confirmed at its level in at least
    /// one session and no session found the run's sequence invalid; `failed` otherwise; `pending` until every
    /// session decided.
    var verdict: PublishedVerdict {
        guard reports.count == sessions.count else {
            return PublishedVerdict(verdict: .pending, outcome: nil, endedBy: endedBy, failures: [])
        }
        var list: [PublishedVerdict.Failure] = []
        for id in acceptedOrder where !confirmedIDs.contains(id) {
            if adoptedIDs.contains(id) {
                // Taken while another node served the run: confirmations it saw are not in this feed, but the
                // sessions' reports (rebuilt from their records) list the events that failed.
                let failed = sessions.compactMap { session in
                    reports[session]?.failures.first { $0.seq != nil && $0.seq == accepted[id]?.seqs[session] }
                }
                if failed.count == sessions.count, let first = failed.first {
                    list.append(.init(id: id, session: sessions.first, code: first.code, detail: nil))
                }
                continue
            }
            let failure = failures[id]
            list.append(.init(id: id, session: failure?.session, code: failure?.reason ?? "unconfirmed", detail: nil))
        }
        for report in reports.values.sorted(by: { $0.session.rawValue < $1.session.rawValue }) {
            for failure in report.failures where failure.isProfileViolation {
                list.append(.init(id: nil, session: report.session, code: failure.code, detail: failure.detail))
            }
        }
        let outcome = reports.values.compactMap(\.outcome).first
        return PublishedVerdict(
            verdict: list.isEmpty ? .confirmed : .failed, outcome: outcome, endedBy: endedBy, failures: list)
    }
}

/// A run's verdict across its sessions (EA-PUB-6).
public struct PublishedVerdict: Sendable, Hashable {
    /// One reason the run failed: an event confirmed in no session (with its last failure), or a session's finding
    /// about the run's sequence.
    public struct Failure: Sendable, Hashable {
        /// The producer's id of the event, for an event confirmed in no session.
        public var id: String?
        /// The session concerned: where the event last failed, or which found the violation.
        public var session: SessionID?
        /// The failure's reason (`receipt_timeout`…, `unconfirmed`) or the violation's code (`missing_start`…).
        public var code: String
        /// What happened, for a violation.
        public var detail: String?
    }

    /// `pending` until every session decided; then `confirmed` or `failed`.
    public var verdict: RunVerdict
    /// What the run's terminal event said (`succeeded`, or `failed` for the profile's failure kinds).
    public var outcome: RunOutcome?
    /// Why the server ended the run itself (`agent_silent`), if it did.
    public var endedBy: String?
    /// Why the run failed; empty unless ``verdict`` is `failed`.
    public var failures: [Failure]
}

/// What `POST /v1/runs` answers: the run's id and the sessions it goes to.
public struct OpenedRun: Sendable, Hashable {
    /// The run's id (the producer's, or one the server made).
    public var run: String
    /// The sessions the run goes to.
    public var sessions: [SessionID]
}
