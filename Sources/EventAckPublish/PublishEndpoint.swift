@_spi(Shell) import EventAckProtocol
import EventAckReconciler

/// The publish API's operations as answers, on one node or across a cluster (EA-PUB-11): an HTTP host parses the
/// request into a ``PublishOperation``, calls ``perform(_:)`` and writes the ``PublishReply``. A run is served by the
/// node that holds its sessions; with a ``relay``, an operation for a run (or a session) held elsewhere is handed to
/// that node, which calls ``performHere(_:)``, and its answer is returned unchanged.
public struct PublishEndpoint: Sendable {
    /// This node's publish API.
    public let publish: PublishService
    /// How to reach the other nodes; `nil` on a single node.
    public let relay: (any PublishRelay)?
    /// The AG-UI agents this node runs for `POST /v1/runs` with `"agent"`; `nil`: none.
    public let agents: (any AgentGateway)?
    /// The sessions of runs served elsewhere, as the ledger said (they never change).
    private let placements = RunPlacements()

    /// An endpoint for `publish`, reaching other nodes through `relay`, running `agents`.
    public init(publish: PublishService, relay: (any PublishRelay)? = nil, agents: (any AgentGateway)? = nil) {
        self.publish = publish
        self.relay = relay
        self.agents = agents
    }

    /// Answers `operation` here, or relays it to the node that holds its run's sessions (if no node holds them any
    /// more, this node answers, from the ledger).
    public func perform(_ operation: PublishOperation) async -> PublishReply {
        do {
            guard let relay, let session = try await elsewhere(operation, relay: relay),
                let reply = try await relay.send(operation, via: session)
            else {
                return await performHere(operation)
            }
            return reply
        } catch {
            return PublishReply(error, retryAfterSeconds: error.status == 503 ? 1 : nil)
        }
    }

    /// The session through which `operation` reaches the node that serves it, or `nil` if that is this node (or no
    /// node: then this one answers 404).
    private func elsewhere(_ operation: PublishOperation, relay: any PublishRelay) async throws(PublishError)
        -> SessionID?
    {
        let service = publish.service
        do {
            guard let run = operation.run else {
                guard case .open(let body) = operation else { return nil }
                // An invalid body is refused here, as a local request would be.
                guard let request = try? OpenRunRequest(body: body) else { return nil }
                switch request.audience {
                case .session(let session):
                    return service.holds(session) ? nil : session
                case .principal(let principal):
                    // A run goes to a user's sessions on one node: this one if it holds any (EA-PUB-11).
                    guard service.sessions(of: principal).isEmpty else { return nil }
                    return try await relay.sessions(of: principal).first
                }
            }
            var sessions = publish.sessionsServedHere(of: run) ?? placements.sessions(of: run)
            if sessions == nil, let ledger = publish.ledger, let recorded = try await ledger.sessions(ofRun: run) {
                placements.remember(recorded, of: run)
                sessions = recorded
            }
            // A run's sessions are on one node: the first says which.
            guard let first = sessions?.first, !service.holds(first) else { return nil }
            return first
        } catch let error as PublishError {
            throw error
        } catch {
            throw .storeUnavailable(error)
        }
    }

    /// Answers `operation` on this node.
    public func performHere(_ operation: PublishOperation) async -> PublishReply {
        do throws(PublishError) {
            switch operation {
            case .open(let body):
                var request = try OpenRunRequest(body: body)
                let agent = try AgentInvocation(body: body)
                if let agent {
                    // An agent's run is an AG-UI run (§ 13.1), of an agent this node runs.
                    guard let agents, agents.offers(agent.name) else {
                        throw PublishError(
                            status: 404, code: "unknown_agent", message: "no agent named \(agent.name) is configured",
                            path: "$.agent.name")
                    }
                    guard request.profile == nil || request.profile == RunProfile.agUI.name else {
                        throw .invalid("an agent's run has the ag-ui profile", at: "$.profile")
                    }
                    request.profile = RunProfile.agUI.name
                }
                let (opened, created) = try await publish.openRun(request)
                if created, let agent, let agents {
                    // Recorded first: should this node die, the node holding the session knows to end the run.
                    try? await publish.ledger?.agentStreamRead(opened.run)
                    agents.start(agent, run: opened.run, for: request.audience)
                }
                return PublishReply(status: created ? 201 : 200, body: Self.opened(opened).jsonText)
            case .events(let run, let body, let waitMs):
                guard waitMs <= PublishService.maxWaitMs else { throw PublishError.invalidWaitMs }
                return Self.published(try await publish.publish(body: body, to: run, waitMs: waitMs))
            case .progress(let run, let body):
                try await publish.progress(run: run, note: try Self.note(body))
                return PublishReply(status: 204, body: "")
            case .view(let run):
                guard let (view, reports) = try await publish.view(of: run) else { throw PublishError.unknownRun(run) }
                return PublishReply(status: 200, body: Self.run(view, reports: reports).jsonText)
            case .feed(let run, let after, let waitMs):
                return try await feed(of: run, after: after, waitMs: waitMs)
            }
        } catch {
            return PublishReply(error, retryAfterSeconds: error.status == 503 ? 1 : nil)
        }
    }

    /// The next part of a run's confirmations stream: 404 for an unknown run, 204 when the stream was complete
    /// before `after` (an `EventSource` stops), else 200 with the items past `after` — waiting
    /// up to `waitMs` for one if there is none yet (then an empty part: the stream sends a keepalive).
    private func feed(of run: String, after: String?, waitMs: UInt64) async throws(PublishError) -> PublishReply {
        try await publish.load(run)
        let position = after.map(publish.feedPosition(lastEventID:)) ?? 0
        guard var part = publish.feed(of: run, after: position) else { throw .unknownRun(run) }
        if part.complete, part.items.isEmpty { return PublishReply(status: 204, body: "") }
        if part.items.isEmpty, waitMs > 0 {
            await publish.waitForFeed(of: run, after: position, timeoutMs: waitMs)
            part = publish.feed(of: run, after: position) ?? part
        }
        let generation = publish.feedGeneration
        return PublishReply(
            status: 200, body: part.items.map { $0.serverSentEvent(generation: generation) }.joined(),
            lastEventID: part.items.last?.eventID(generation: generation) ?? after, complete: part.complete)
    }
}

/// The sessions of runs a node relays requests for, bounded (past the bound it starts again: a lookup more).
final class RunPlacements: Sendable {
    private let runs = LockedState<[String: [SessionID]]>([:])
    static let limit = 10_000

    func sessions(of run: String) -> [SessionID]? { runs.withLock { $0[run] } }

    func remember(_ sessions: [SessionID], of run: String) {
        runs.withLock { runs in
            if runs.count >= Self.limit { runs = [:] }
            runs[run] = sessions
        }
    }
}

extension PublishEndpoint {
    /// A progress request's note: the body is empty, or an object whose `note` is a string of at most 4096 bytes.
    static func note(_ body: String) throws(PublishError) -> String? {
        guard !body.isEmpty else { return nil }
        guard let object = try? JSONValue(parsingObject: body) else {
            throw PublishError(
                status: 400, code: "invalid_request", message: "the body must be a JSON object", path: "$")
        }
        switch object["note"] {
        case nil, .null?: return nil
        case .string(let value)? where value.utf8.count <= ProtocolLimits.maxTextBytes: return value
        default:
            throw PublishError(
                status: 400, code: "invalid_request", message: "note must be a string of at most 4096 bytes",
                path: "$.note")
        }
    }

    static func opened(_ opened: OpenedRun) -> JSONValue {
        .object([("run", .string(opened.run)), ("sessions", .array(opened.sessions.map { .string($0.rawValue) }))])
    }

    static func results(_ results: [PublishedEventResult]) -> JSONValue {
        .array(
            results.map { result in
                let seqs = result.seqs.sorted { $0.key.rawValue < $1.key.rawValue }
                    .map { (key: $0.key.rawValue, value: JSONValue.number(String($0.value))) }
                return .object([
                    ("id", .string(result.id)), ("seq", .object(seqs)), ("duplicate", .bool(result.duplicate)),
                ])
            })
    }

    /// 200 with every event's result, or the refusal with the accepted prefix in `accepted` (and `Retry-After`
    /// for a 429).
    static func published(_ outcome: PublishOutcome) -> PublishReply {
        guard let refusal = outcome.refusal else {
            return PublishReply(status: 200, body: JSONValue.object([("events", results(outcome.results))]).jsonText)
        }
        return PublishReply(
            status: refusal.status,
            body: JSONValue.object(refusal.members + [("accepted", results(outcome.results))]).jsonText,
            retryAfterSeconds: outcome.retryAfterMs.map { max(1, ($0 + 999) / 1000) })
    }

    static func run(_ view: RunView, reports: [RunReport]) -> JSONValue {
        let parsed = reports.map { (try? JSONValue(parsingObject: $0.json())) ?? .null }
        return .object([
            ("run", .string(view.run)), ("sessions", .array(view.sessions.map { .string($0.rawValue) })),
            ("state", .string(view.ended ? "ended" : "open")), ("published", .number(String(view.published))),
            ("confirmed", .number(String(view.confirmed))), ("verdict", view.verdict.json),
            ("reports", .array(parsed)),
        ])
    }
}
