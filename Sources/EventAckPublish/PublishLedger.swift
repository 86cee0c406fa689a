import EventAckProtocol
import EventAckReconciler

/// Where the publish API keeps its runs and producer ids when sessions are durable, so that they outlive the node
/// that took them (EA-PUB-13): a run id names one run across every node, and a retry of an event — after its node
/// crashed, through another node — is answered `duplicate`, never emitted twice.
///
/// A store implements it beside `SessionStore`, with one rule that makes ids exact: **an event's id is recorded in the
/// same commit as its `emitted` record**. ``PublishService`` emits a published event with the origin
/// ``PublishedEvent/origin(of:)``; the store, when it commits such a record, records the id, the run, the session, the
/// seq and the body (``PublishedEvent/body(id:kind:confirm:payload:endsRun:)``) with it. An id is therefore taken
/// exactly when its event is durable: a crash before the commit loses both, and the retry emits it; after, the retry
/// finds it.
public protocol PublishLedger: Sendable {
    /// Records `run` unless a run with its id is recorded already; returns what is recorded under the id now — `run`
    /// itself, or the earlier run with the events it took.
    func register(_ run: LedgerRun) async throws -> LedgerRun
    /// The run recorded under `id`, with the events it took, or `nil`.
    func run(_ id: String) async throws -> LedgerRun?
    /// The sessions of the run recorded under `id`, or `nil`: where a request for it is served (a run's sessions
    /// never change, so a node may remember the answer).
    func sessions(ofRun id: String) async throws -> [SessionID]?
    /// Says that `run` ended at `at` (Unix ms). Its ids are kept for the book's retention after that, then retired.
    func ended(_ run: String, at: UInt64) async throws
    /// Says that this node (this process) reads the stream of `run`'s AG-UI agent: if it dies, the node that holds the
    /// run's session ends the run (EA-PUB-14).
    func agentStreamRead(_ run: String) async throws
}

/// A run as a ``PublishLedger`` records it.
public struct LedgerRun: Sendable, Hashable {
    /// The run's id.
    public var run: String
    /// The request that opened it, its run id filled in.
    public var request: OpenRunRequest
    /// The sessions it goes to.
    public var sessions: [SessionID]
    /// When it was opened (Unix ms).
    public var openedAt: UInt64
    /// When it ended, if it has.
    public var endedAt: UInt64?
    /// The events it took, in the order they were taken.
    public var events: [LedgerEvent]

    /// A run as recorded.
    public init(
        run: String, request: OpenRunRequest, sessions: [SessionID], openedAt: UInt64, endedAt: UInt64? = nil,
        events: [LedgerEvent] = []
    ) {
        self.run = run
        self.request = request
        self.sessions = sessions
        self.openedAt = openedAt
        self.endedAt = endedAt
        self.events = events
    }
}

/// An event a run took, as a ``PublishLedger`` records it: the producer's id, the body it came with and its seq in
/// each session.
public struct LedgerEvent: Sendable, Hashable {
    /// The producer's id.
    public var id: String
    /// ``PublishedEvent/body``: what a retry is compared with.
    public var body: JSONValue
    /// Its seq in each session of the run.
    public var seqs: [SessionID: Seq]

    /// An event as recorded.
    public init(id: String, body: JSONValue, seqs: [SessionID: Seq]) {
        self.id = id
        self.body = body
        self.seqs = seqs
    }
}

extension PublishedEvent {
    /// The `origin` a published event's records carry: how a store knows the id to record with them.
    public static func origin(of id: String) -> String { originPrefix + id }

    /// The producer's id in a record's `origin`, if the record is a published event's.
    public static func id(fromOrigin origin: String?) -> String? {
        guard let origin, origin.hasPrefix(originPrefix) else { return nil }
        return String(origin.dropFirst(originPrefix.count))
    }

    static let originPrefix = "publish:"

    /// The body a retry is compared with (as JSON values): the event's members with their defaults written out, so
    /// that a retry that spells a default differs in nothing that matters. What a store records from an `emitted`
    /// record is the same as what the request held.
    public static func body(
        id: String, kind: String, confirm: ConfirmationLevel, payload: JSONValue, endsRun: Bool?
    ) -> JSONValue {
        .object([
            ("id", .string(id)), ("kind", .string(kind)), ("confirm", .string(confirm.rawValue)),
            ("payload", payload), ("endsRun", endsRun.map(JSONValue.bool) ?? .null),
        ])
    }
}

extension OpenRunRequest {
    /// The request as a JSON object that ``init(body:)`` reads back: what a ledger stores.
    public var json: String {
        var members: [(key: String, value: JSONValue)] = []
        switch audience {
        case .session(let session): members.append(("session", .string(session.rawValue)))
        case .principal(let principal): members.append(("principal", .string(principal)))
        }
        if let run { members.append(("run", .string(run))) }
        members.append(("idleTimeoutMs", .number(String(idleTimeoutMs))))
        if let requestedAt { members.append(("requestedAt", .number(String(requestedAt)))) }
        if let profile { members.append(("profile", .string(profile))) }
        if !confirmLevels.isEmpty {
            let levels = confirmLevels.sorted { $0.key < $1.key }.map { ($0.key, JSONValue.string($0.value.rawValue)) }
            members.append(("confirm", .object(levels)))
        }
        return JSONValue.object(members).jsonText
    }
}
