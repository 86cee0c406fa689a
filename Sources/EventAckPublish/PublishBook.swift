import EventAckProtocol
import EventAckReconciler

/// The publish API's rules in one place, with no I/O and time passed in (EA-PUB-*): which runs exist and where they
/// go, which producer ids were taken (so that a retry is answered, never emitted twice), and what each run's producer
/// is told. ``PublishService`` drives it against a `ReconcilerService`, whose sessions end a run whose producer went
/// silent (EA-RUN-2).
public struct PublishBook: Sendable {
    var runs: [String: PublishedRun] = [:]
    /// Ended runs in the order they ended, for retirement.
    var endedOrder: [(run: String, at: UInt64)] = []
    /// The profile of a run that names none (the service's default), and those a run may name (EA-PUB-3's
    /// `profile`): what ends a run, and the level each kind is confirmed at when an event does not say.
    let defaultProfile: RunProfile?
    let profiles: [String: RunProfile]
    /// How long an ended run's ids and feed are kept (EA-PUB-4: at least 10 minutes).
    public let retentionMs: UInt64

    /// How long an ended run's ids and feed are kept unless a book is told otherwise.
    public static let defaultRetentionMs: UInt64 = 15 * 60_000

    /// An empty book. `defaultProfile` validates runs that name no profile, `profiles` are those a run may name (the
    /// reconciler configuration's `runProfile` and `runProfiles`); `retentionMs` how long an ended run is remembered.
    public init(
        defaultProfile: RunProfile?, profiles: [String: RunProfile] = [:],
        retentionMs: UInt64 = Self.defaultRetentionMs
    ) {
        self.defaultProfile = defaultProfile
        self.profiles = profiles
        self.retentionMs = max(retentionMs, 10 * 60_000)
    }

    /// Runs that ended and that the ledger has not been told of yet (``takeEndedForLedger()``).
    var endedForLedger: [(run: String, at: UInt64)] = []

    /// Whether `run` exists here.
    public func knows(_ run: String) -> Bool { runs[run] != nil }

    /// Takes in a run as a ``PublishLedger`` recorded it — opened, perhaps ended, by a node that no longer serves its
    /// sessions — with the events it took, so that their retries are answered and their confirmations followed
    /// here. A run known here already is left as it is.
    public mutating func adopt(_ recorded: LedgerRun, now: UInt64) {
        guard runs[recorded.run] == nil else { return }
        var run = PublishedRun(
            run: recorded.run, request: recorded.request, sessions: recorded.sessions, now: recorded.openedAt,
            terminalKinds: terminalKinds(of: recorded.request), confirmLevels: confirmLevels(of: recorded.request))
        for event in recorded.events {
            run.accepted[event.id] = .init(body: event.body, seqs: event.seqs)
            run.acceptedOrder.append(event.id)
            run.adoptedIDs.insert(event.id)
            for (session, seq) in event.seqs { run.idBySeq[session, default: [:]][seq] = event.id }
        }
        runs[recorded.run] = run
        if let endedAt = recorded.endedAt {
            runs[recorded.run]!.endedAt = endedAt
            endedOrder.append((recorded.run, now))
        }
    }

    /// The runs this book knows that have no verdict yet.
    public var undecidedRunIDs: [String] { runs.values.filter { !$0.isDecided }.map(\.run) }

    /// Forgets `run` (its sessions are served elsewhere now; a ledger has it).
    public mutating func forget(_ run: String) {
        runs[run] = nil
    }

    /// The runs that ended since the last call, for the ledger.
    public mutating func takeEndedForLedger() -> [(run: String, at: UInt64)] {
        defer { endedForLedger = [] }
        return endedForLedger
    }

    /// Opens `run` to `sessions`, or answers a repeat of the request that opened it (EA-PUB-3).
    ///
    /// - Returns: the answer, and whether the run is new (201) rather than a repeat (200).
    /// - Throws: 409 `run_exists` for the id of another run, 409 `run_ended` for a run that ended.
    public mutating func open(
        _ request: OpenRunRequest, run: String, sessions: [SessionID], now: UInt64
    ) throws(PublishError) -> (OpenedRun, created: Bool) {
        if let existing = runs[run] {
            guard existing.request == request || existing.request == Self.named(request, run) else {
                throw PublishError(status: 409, code: "run_exists", message: "run \(run) exists with other parameters")
            }
            guard !existing.isEnded else { throw .runEnded(run) }
            return (existing.opened, false)
        }
        runs[run] = PublishedRun(
            run: run, request: Self.named(request, run), sessions: sessions, now: now,
            terminalKinds: terminalKinds(of: request), confirmLevels: confirmLevels(of: request))
        return (runs[run]!.opened, true)
    }

    /// The kinds that end a run opened by `request`: those of the profile it names, or the default's.
    func terminalKinds(of request: OpenRunRequest) -> Set<String> { profile(of: request)?.terminalKinds ?? [] }

    /// The profile a run opened by `request` is validated by: the one it names, or the default (as the reconciler
    /// picks it).
    func profile(of request: OpenRunRequest) -> RunProfile? {
        request.profile.flatMap { profiles[$0] } ?? defaultProfile
    }

    /// The level each kind of a run opened by `request` is confirmed at when an event does not say: its profile's,
    /// with the run's own over them.
    func confirmLevels(of request: OpenRunRequest) -> [String: ConfirmationLevel] {
        (profile(of: request)?.confirmLevels ?? [:]).merging(request.confirmLevels) { _, run in run }
    }

    /// The level each kind of `run` is confirmed at when an event does not say.
    public func confirmLevels(ofRun run: String) -> [String: ConfirmationLevel] { runs[run]?.confirmLevels ?? [:] }

    /// `request` with its run id filled in, so that a repeat naming the generated id is the same request.
    static func named(_ request: OpenRunRequest, _ run: String) -> OpenRunRequest {
        var request = request
        request.run = run
        return request
    }

    /// What to do with each event of a request (EA-PUB-4): answer a retry with what it got, emit a new one.
    public enum Step: Sendable {
        /// A retry of an event taken before: answered with the seqs it got.
        case duplicate(seqs: [SessionID: Seq])
        /// A new event: emit it.
        case emit(PublishedEvent)
    }

    /// Checks a publish request against what the run took before.
    ///
    /// - Throws: 404 for an unknown run; 409 `id_conflict` when an id was taken with another body (nothing of the
    ///   request is emitted); 409 `run_ended` when the run ended and the request holds a new event.
    public func plan(_ events: [PublishedEvent], for run: String) throws(PublishError) -> [Step] {
        guard let published = runs[run] else { throw .unknownRun(run) }
        var steps: [Step] = []
        for (index, event) in events.enumerated() {
            if let taken = published.accepted[event.id] {
                let ends = published.terminalKinds
                guard resolved(taken.body, ends).isSameValue(as: resolved(event.body, ends)) else {
                    throw .init(
                        status: 409, code: "id_conflict", message: "id \(event.id) was published with another body",
                        path: "$.events[\(index)]")
                }
                steps.append(.duplicate(seqs: taken.seqs))
            } else {
                guard !published.isEnded else { throw .runEnded(run) }
                steps.append(.emit(event))
            }
        }
        return steps
    }

    /// `body` with an absent `endsRun` written out as the profile's default (a terminal kind ends its run): an
    /// `emitted` record — what a ledger rebuilds a body from — holds the resolved value.
    func resolved(_ body: JSONValue, _ terminalKinds: Set<String>) -> JSONValue {
        guard case .object(let members) = body, body["endsRun"] == .null, case .string(let kind)? = body["kind"] else {
            return body
        }
        return .object(
            members.map { member in
                member.key == "endsRun" ? (member.key, .bool(terminalKinds.contains(kind))) : member
            })
    }

    /// The sessions an event of `run` goes to.
    public func sessions(of run: String) -> [SessionID] { runs[run]?.sessions ?? [] }

    /// Records an event emitted with `seqs`; an event that ends the run ends it.
    public mutating func accepted(_ event: PublishedEvent, seqs: [SessionID: Seq], in run: String, now: UInt64) {
        guard runs[run] != nil else { return }
        runs[run]!.accepted[event.id] = .init(body: event.body, seqs: seqs)
        runs[run]!.acceptedOrder.append(event.id)
        for (session, seq) in seqs { runs[run]!.idBySeq[session, default: [:]][seq] = event.id }
        if event.endsRun ?? runs[run]!.terminalKinds.contains(event.kind) { end(run, at: now) }
    }

    /// Checks that `run` is open for progress notes.
    ///
    /// - Throws: 404 for an unknown run, 409 `run_ended` for one that ended.
    public func checkOpen(_ run: String) throws(PublishError) {
        guard let published = runs[run] else { throw .unknownRun(run) }
        guard !published.isEnded else { throw .runEnded(run) }
    }

    /// The reconciler refused `run` as ended (the server ended it for silence, EA-RUN-2): it takes no more events.
    public mutating func endedElsewhere(_ run: String, now: UInt64) {
        guard runs[run] != nil else { return }
        end(run, at: now)
    }

    private mutating func end(_ run: String, at now: UInt64) {
        guard runs[run]?.endedAt == nil else { return }
        runs[run]!.endedAt = now
        endedOrder.append((run, now))
        endedForLedger.append((run, now))
    }

    /// Takes in what the reconciler reports about published runs' events.
    public mutating func observe(_ event: ReconciliationEvent) {
        switch event {
        case .confirmed(let reference, let level, let latencyMs):
            runs[reference.run]?.confirmed(reference, level: level, latencyMs: latencyMs)
        case .failed(let reference, let level, let reason):
            runs[reference.run]?.failed(reference, level: level, reason: reason.rawValue)
        case .runFinished(let report):
            guard let published = runs[report.run], published.sessions.contains(report.session) else { return }
            end(report.run, at: report.endedAt ?? published.openedAt)
            runs[report.run]!.finished(report)
        default:
            break
        }
    }

    /// Forgets runs that ended more than ``retentionMs`` ago and are decided: their ids and feed go with them.
    public mutating func retire(now: UInt64) {
        while let first = endedOrder.first, now >= first.at + retentionMs {
            endedOrder.removeFirst()
            if runs[first.run]?.isDecided ?? true { runs[first.run] = nil } else { endedOrder.append((first.run, now)) }
        }
    }

    /// The feed of `run` after item `after` (0 for all), and whether the feed is complete (its verdict is in it).
    public func feed(of run: String, after: Int) -> (items: [FeedItem], complete: Bool)? {
        guard let published = runs[run] else { return nil }
        return (Array(published.feed.dropFirst(max(0, after))), published.isDecided)
    }

    /// The run's state for `GET /v1/runs/{run}`.
    public func view(of run: String) -> RunView? {
        guard let published = runs[run] else { return nil }
        return RunView(
            run: run, sessions: published.sessions, ended: published.isEnded, verdict: published.verdict,
            published: published.acceptedOrder.count, confirmed: published.confirmedIDs.count)
    }
}

/// A published run as `GET /v1/runs/{run}` shows it, beside each session's report.
public struct RunView: Sendable, Hashable {
    /// The run's id.
    public var run: String
    /// The sessions it goes to.
    public var sessions: [SessionID]
    /// Whether the run ended (its terminal event taken, or ended by the server).
    public var ended: Bool
    /// The verdict across the sessions (`pending` until each decided).
    public var verdict: PublishedVerdict
    /// Events taken.
    public var published: Int
    /// Events confirmed at their level in at least one session.
    public var confirmed: Int
}
