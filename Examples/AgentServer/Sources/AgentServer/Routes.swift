import EventAckHummingbird
import EventAckPostgres
import EventAckProtocol
import EventAckReconciler
import Foundation
import Hummingbird
import Synchronization

/// The HTTP side of the server: start runs, read the report (a user sees their own sessions, the operator all),
/// health and readiness, metrics, and — only when started with `--bench` — the load benchmark.
///
/// Every refusal is JSON `{"error": CODE, "message": TEXT}` with a status HTTP clients and proxies understand: 401
/// without a valid bearer token (with `WWW-Authenticate`), 403 for what the token may not see, 404 for another
/// user's or an unknown session, 409 for a conflict, 429 for a full window or too many runs, 400 for bad input.
struct Routes: Sendable {
    let service: ReconcilerService
    /// How the cluster's own store queries go (always reachable without a store).
    let storeProbe: StoreProbe
    let agent: SimulatedAgent
    let bench: LoadBenchmark?
    let tokens: TokenTable
    /// Single-use tickets for browsers (BROWSER.md § 1).
    let tickets: TicketBook
    /// The AG-UI agents configured, by name (`GET /v1/agents`).
    let agUIAgentNames: [String]
    /// This node's id, shown on the dashboard.
    let node: String
    let metrics: ServerMetrics
    let isShuttingDown: @Sendable () -> Bool
    /// The most sessions and runs a report lists (the figures still count everything).
    static let reportLimit = 500
    /// The operator's full report is built at most once a second, however often it is polled.
    private let operatorReport = ReportCache()

    init(
        service: ReconcilerService, storeProbe: StoreProbe, agent: SimulatedAgent, bench: LoadBenchmark?,
        tokens: TokenTable, tickets: TicketBook, agUIAgentNames: [String], node: String,
        metrics: ServerMetrics, isShuttingDown: @escaping @Sendable () -> Bool
    ) {
        (self.service, self.agent, self.bench, self.tokens) = (service, agent, bench, tokens)
        (self.tickets, self.agUIAgentNames, self.node) = (tickets, agUIAgentNames.sorted(), node)
        self.storeProbe = storeProbe
        (self.metrics, self.isShuttingDown) = (metrics, isShuttingDown)
    }

    struct StartRun: Decodable {
        var session: String
        var scenario: String?
    }

    func add(to router: Router<BasicRequestContext>) {
        router.post("/runs") { request, context -> Response in try await startRun(request, context) }
        router.get("/report") { request, _ -> Response in try jsonReport(request) }
        router.get("/cluster/report") { request, _ -> Response in try await clusterReport(request) }
        router.get("/report.txt") { request, _ -> Response in textReport(request) }
        router.get("/eventack") { request, _ -> Response in notUpgraded(request) }
        router.get("/health") { _, _ -> Response in health() }
        router.get("/ready") { _, _ -> Response in ready() }
        router.get("/metrics") { request, _ -> Response in metricsPage(request) }
        addWeb(to: router)
        guard bench != nil else { return }
        router.post("/bench") { request, context -> Response in try await runBench(request, context) }
    }

    /// `POST /runs {"session", "scenario"}`: starts a simulated agent run in one of the caller's sessions.
    private func startRun(_ request: Request, _ context: BasicRequestContext) async throws -> Response {
        let principal: String
        switch authenticate(request) {
        case .accepted(let user): principal = user ?? ""
        case .refused(let refusal): return refusal
        }
        guard let body = try? await request.decode(as: StartRun.self, context: context) else {
            return Self.error(.badRequest, "invalid_argument", "body is {\"session\": ID, \"scenario\": NAME}")
        }
        let session = SessionID(body.session)
        // Isolation: a principal starts runs only in its own sessions (held here or on another node).
        guard await agent.router.belongs(session, to: principal) else {
            return Self.error(.notFound, "unknown_session", "no session \(body.session) of yours")
        }
        guard let scenario = SimulatedAgent.Scenario(rawValue: body.scenario ?? "quick") else {
            let known = SimulatedAgent.Scenario.allCases.map(\.rawValue).joined(separator: ", ")
            return Self.error(.badRequest, "invalid_argument", "unknown scenario; known: \(known)")
        }
        do {
            let run = try agent.start(scenario, in: session)
            return try Self.json(["run": run, "scenario": scenario.rawValue], .accepted)
        } catch is SimulatedAgent.TooManyRuns {
            return Self.error(
                .tooManyRequests, "too_many_runs", "at most \(agent.maxRunsPerSession) runs at once per session")
        } catch let error as ReconcilerError {
            return Self.error(error)
        }
    }

    /// `GET /report`: the report as JSON, the caller's sessions (the operator: everything).
    private func jsonReport(_ request: Request) throws -> Response {
        switch reportScope(request) {
        case .refused(let refusal): return refusal
        case .accepted(let principal): return try Self.json(report(for: principal), .ok)
        }
    }

    /// `GET /cluster/report`: the report across every node of a cluster (with --store), the operator's only.
    private func clusterReport(_ request: Request) async throws -> Response {
        switch reportScope(request) {
        case .refused(let refusal): return refusal
        case .accepted(.some): return Self.error(.forbidden, "forbidden", "the cluster report is the operator's")
        case .accepted(.none):
            guard let store = agent.router.store else {
                return Self.error(.notFound, "no_store", "this server keeps sessions in memory (no --store)")
            }
            let now = UInt64(Date().timeIntervalSince1970 * 1000)
            return try Self.json(try await store.clusterReport(now: now), .ok)
        }
    }

    /// `GET /report.txt`: the report as text.
    private func textReport(_ request: Request) -> Response {
        switch reportScope(request) {
        case .refused(let refusal): return refusal
        case .accepted(let principal): return Self.text(report(for: principal).text, .ok)
        }
    }

    /// `GET /eventack` that reached the router was not upgraded: say why, as HTTP clients expect.
    private func notUpgraded(_ request: Request) -> Response {
        // A ticket that passed the gate but was spent by a racing upgrade (or expired meanwhile) lands here.
        guard let credential = credential(of: request, spendingTicket: false) else { return Self.invalidTicket }
        if credential.user != nil, request.headers[.upgrade]?.lowercased() != "websocket" {
            return Self.error(.upgradeRequired, "upgrade_required", "GET /eventack is a WebSocket upgrade")
        }
        let refusal =
            EventAckWebSocket.refusal(
                credential, subprotocols: request.headers[values: .secWebSocketProtocol],
                isShuttingDown: isShuttingDown())
            ?? UpgradeRefusal(status: .badRequest, code: "subprotocol_required", message: "offer eventack.v1")
        if refusal.status == .unauthorized { return Self.unauthorized(refusal.code, refusal.message) }
        return Self.error(.init(code: Int(refusal.status.code)), refusal.code, refusal.message)
    }

    /// `GET /health`: the process is up.
    private func health() -> Response {
        Self.text("ok\n", .ok)
    }

    /// `GET /ready`: 200 when the server can take traffic; 503 while draining or while the store is unavailable.
    private func ready() -> Response {
        if isShuttingDown() { return Self.error(.serviceUnavailable, "shutting_down", "draining") }
        // A store that fails or stalls cannot make events durable: say so instead of hanging (EA-DUR-8).
        let store = service.storeHealth
        guard store.isAvailable, storeProbe.isReachable else {
            return Self.error(
                .serviceUnavailable, "store_unavailable",
                "the session store is unavailable; \(store.pendingWrites) writes wait for it")
        }
        return Self.text("ready\n", .ok)
    }

    /// `GET /metrics`: Prometheus text, the operator's only.
    private func metricsPage(_ request: Request) -> Response {
        guard tokens.credential(of: request.headers) == .operator else {
            return Self.unauthorized("invalid_token", "metrics need the operator token")
        }
        return Response(
            status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
            body: .init(byteBuffer: ByteBuffer(string: metrics.render())))
    }

    /// `POST /bench` (only with --bench): one load benchmark run into one of the caller's sessions.
    private func runBench(_ request: Request, _ context: BasicRequestContext) async throws -> Response {
        guard let bench else { return Self.error(.notFound, "not_found", "started without --bench") }
        let principal: String
        switch authenticate(request) {
        case .accepted(let user): principal = user ?? ""
        case .refused(let refusal): return refusal
        }
        guard let body = try? await request.decode(as: LoadBenchmark.Request.self, context: context) else {
            return Self.error(
                .badRequest, "invalid_argument", "body is {session, events, variant, rate?, payloadBytes?}")
        }
        guard service.sessions(of: principal).contains(SessionID(body.session)) else {
            return Self.error(.notFound, "unknown_session", "no session \(body.session) of yours")
        }
        do {
            return try Self.json(try await bench.run(body), .ok)
        } catch let refusal as LoadBenchmark.Refusal {
            return Self.error(.init(code: refusal.status), refusal.code, refusal.message)
        } catch let error as ReconcilerError {
            return Self.error(error)
        }
    }

    /// Who a request is, or the response refusing it.
    enum Authorized {
        case accepted(String?)
        case refused(Response)
    }

    private func authenticate(_ request: Request) -> Authorized {
        switch tokens.credential(of: request.headers) {
        case .user(let principal): .accepted(principal)
        case .missing: .refused(Self.unauthorized("invalid_request", "a bearer token is required"))
        case .unknown: .refused(Self.unauthorized("invalid_token", "the bearer token is not valid"))
        case .operator: .refused(Self.error(.forbidden, "forbidden", "the operator token cannot act as a user"))
        case .publisher: .refused(Self.error(.forbidden, "forbidden", "a publisher's token cannot act as a user"))
        }
    }

    /// A user sees their own sessions and runs (`principal`), the operator everything (`nil`).
    func reportScope(_ request: Request) -> Authorized {
        switch tokens.credential(of: request.headers) {
        case .user(let principal): .accepted(principal)
        case .operator: .accepted(nil)
        case .missing: .refused(Self.unauthorized("invalid_request", "a bearer token is required"))
        case .unknown: .refused(Self.unauthorized("invalid_token", "the bearer token is not valid"))
        case .publisher: .refused(Self.error(.forbidden, "forbidden", "a publisher's token reads no report yet"))
        }
    }

    func report(for principal: String?) -> ConfirmationReport {
        guard principal == nil else { return service.report(principal: principal, limit: Self.reportLimit) }
        return operatorReport.get { service.report(limit: Self.reportLimit) }
    }

    static func error(_ error: ReconcilerError) -> Response {
        let status: HTTPResponse.Status =
            switch error.code {
            case "window_exceeded": .tooManyRequests
            case "unknown_session": .notFound
            default: .badRequest
            }
        return Self.error(status, error.code, error.message)
    }

    static func error(_ status: HTTPResponse.Status, _ code: String, _ message: String) -> Response {
        let body = (try? Self.encoder.encode(["error": code, "message": message])) ?? Data()
        return Response(
            status: status, headers: [.contentType: "application/json"],
            body: .init(byteBuffer: ByteBuffer(bytes: body)))
    }

    static func unauthorized(_ code: String, _ message: String) -> Response {
        var response = error(.unauthorized, code, message)
        response.headers[.wwwAuthenticate] = "Bearer realm=\"eventack\", error=\"\(code)\""
        return response
    }

    static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return encoder
    }()

    static func json(_ value: some Encodable, _ status: HTTPResponse.Status) throws -> Response {
        let data = try encoder.encode(value)
        return Response(
            status: status, headers: [.contentType: "application/json"],
            body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }

    static func text(_ text: String, _ status: HTTPResponse.Status) -> Response {
        Response(
            status: status, headers: [.contentType: "text/plain; charset=utf-8"],
            body: .init(byteBuffer: ByteBuffer(string: text)))
    }
}

/// The operator's report, rebuilt at most once a second: polling it cannot multiply its cost.
final class ReportCache: Sendable {
    private let cached = Mutex<(report: ConfirmationReport, at: ContinuousClock.Instant)?>(nil)

    func get(_ build: () -> ConfirmationReport) -> ConfirmationReport {
        if let entry = cached.withLock({ $0 }), entry.at.duration(to: .now) < .seconds(1) { return entry.report }
        let report = build()
        cached.withLock { $0 = (report, .now) }
        return report
    }
}
