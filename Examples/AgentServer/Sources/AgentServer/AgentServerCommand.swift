import ArgumentParser
import EventAckHummingbird
import EventAckPostgres
import EventAckProtocol
import EventAckPublish
import EventAckReconciler
import Foundation
import Hummingbird
import HummingbirdCore
import HummingbirdWebSocket
import Logging
import NIOCore
import NIOHTTP1
import ServiceLifecycle
import Synchronization

/// `agent-server`: an EventAck reconciler behind Hummingbird, with a simulated agent.
///
/// - `GET /eventack` upgrades to a WebSocket (subprotocol `eventack.v1`) for a request with a known bearer token;
///   without one it answers 401 with a reason.
/// - `POST /runs` `{"session": ID, "scenario": "quick"|"complex"|"tool_error"}` (same bearer token; the session
///   must be the caller's) starts an agent run on that session and answers `{"run": NAME}`.
/// - `GET /report` (JSON, `Spec/REPORT.md`) and `GET /report.txt`: a user's token shows that user's sessions and
///   runs; the operator token (`--operator-token`) shows everything. Without a valid token: 401.
/// - `GET /health`, `GET /ready`, `GET /metrics` (Prometheus, operator token).
/// - `POST /v1/tickets` (a user's or the operator's token): a single-use ticket for a browser's WebSocket
///   (`/eventack?ticket=…`) or `EventSource` (Spec/BROWSER.md); upgrades from pages of other origins than its own and
///   `--allowed-origins` are refused. `GET /v1/agents`: what a user may start. `GET /v1/dashboard/events`: the
///   operator's live report as Server-Sent Events. With `--web-root`, the chat page and the dashboard.
/// - `POST /bench`, only with `--bench`: the server's half of the load benchmark.
///
/// On SIGINT or SIGTERM it says `bye` to every client, waits for them to get it, stops accepting, prints the final
/// report, and exits 0.
@main
struct AgentServerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "agent-server", abstract: "An EventAck reconciler server with a simulated AI agent.",
        discussion: """
            Every option can also be set by an environment variable: EVENTACK_ and the option's name in capitals with
            underscores (EVENTACK_PORT, EVENTACK_OPERATOR_TOKEN, EVENTACK_MAX_CONNECTIONS…). A flag given on the
            command line wins.
            """)

    @Option(help: "The address to listen on. [EVENTACK_HOST, default 127.0.0.1]")
    var host: String?

    @Option(help: "The port to listen on; 0 picks a free one (printed). [EVENTACK_PORT, default 8080]")
    var port: Int?

    @Option(help: "Bearer tokens: token=principal pairs separated by commas. [EVENTACK_TOKENS]")
    var tokens: String?

    @Option(help: "A file of token=principal lines. [EVENTACK_TOKENS_FILE]")
    var tokensFile: String?

    @Option(help: "Publishers' bearer tokens (the publish API): token=name pairs. [EVENTACK_PUBLISHER_TOKENS]")
    var publisherTokens: String?

    @Option(help: "A file of publishers' token=name lines. [EVENTACK_PUBLISHER_TOKENS_FILE]")
    var publisherTokensFile: String?

    @Option(
        help: """
            AG-UI agents this server may run for a publish API run opened with "agent": name=http://host:port/path \
            pairs, comma-separated. [EVENTACK_AG_UI_AGENTS]
            """)
    var agUIAgents: String?

    @Option(
        help:
            "How long an AG-UI agent's stream may stay silent before its run ends, ms. [EVENTACK_AG_UI_READ_TIMEOUT_MS, 30000]"
    )
    var agUIReadTimeoutMs: Int64?

    @Option(
        help: """
            A JSON file of AG-UI agents: {"name": {"url": URL, "headers": {NAME: VALUE}}}, for agents that need \
            headers (a key). [EVENTACK_AG_UI_AGENTS_FILE]
            """)
    var agUIAgentsFile: String?

    @Option(help: "AG-UI agent runs at once for one user. [EVENTACK_MAX_AGENT_RUNS_PER_USER, 4]")
    var maxAgentRunsPerUser: Int?

    @Option(
        help: """
            Serve the browser pages (chat at /, dashboard at /dashboard.html) from this folder, such as Examples/web. \
            [EVENTACK_WEB_ROOT]
            """)
    var webRoot: String?

    @Option(
        help: """
            Origins of pages, besides this server's own, that may open WebSockets: https://chat.example.com, \
            comma-separated; * allows any (development only). [EVENTACK_ALLOWED_ORIGINS]
            """)
    var allowedOrigins: String?

    @Option(help: "The operator's bearer token: the whole report and /metrics. [EVENTACK_OPERATOR_TOKEN]")
    var operatorToken: String?

    @Option(help: "How long a disconnected session waits for a resume, ms. [EVENTACK_RESUME_WINDOW_MS, 120000]")
    var resumeWindowMs: UInt64?

    @Option(help: "The most events outstanding per session. [EVENTACK_WINDOW, default 256]")
    var window: UInt64?

    @Option(help: "The most events queued per session beyond the window. [EVENTACK_MAX_QUEUED_EVENTS, 4096]")
    var maxQueuedEvents: Int?

    @Option(help: "The most sessions one user holds at once. [EVENTACK_MAX_SESSIONS_PER_PRINCIPAL, default 64]")
    var maxSessionsPerPrincipal: Int?

    @Option(
        help: """
            End a run whose agent sent no event and no progress for this long, ms, with agent_failed \
            (agent_silent); 0: never. [EVENTACK_RUN_IDLE_TIMEOUT_MS, default 60000]
            """)
    var runIdleTimeoutMs: UInt64?

    @Option(help: "The most agent runs emitting at once per session. [EVENTACK_MAX_RUNS_PER_SESSION, default 8]")
    var maxRunsPerSession: Int?

    @Option(help: "The most open connections. [EVENTACK_MAX_CONNECTIONS, default 768]")
    var maxConnections: Int?

    @Option(help: "The most connections without a complete request head. [EVENTACK_MAX_ANONYMOUS_CONNECTIONS, 128]")
    var maxAnonymousConnections: Int?

    @Option(help: "How long a connection may take to send a request head, ms. [EVENTACK_HEAD_TIMEOUT_MS, 5000]")
    var headTimeoutMs: Int64?

    @Option(
        help:
            "Frames queued per connection before a peer that does not read is closed. [EVENTACK_MAX_QUEUED_FRAMES, 4096]"
    )
    var maxQueuedFrames: Int?

    @Option(help: "How long shutdown waits for clients to get their bye, ms. [EVENTACK_DRAIN_MS, default 3000]")
    var drainMs: UInt64?

    @Flag(help: "Enable POST /bench (the load benchmark's server half). [EVENTACK_BENCH=1]")
    var bench = false

    @Option(help: "How long a benchmark waits for acks that do not come, ms. [EVENTACK_BENCH_TIMEOUT_MS, 30000]")
    var benchTimeoutMs: Int?

    @Flag(help: "Log every confirmation, not only failures and session changes. [EVENTACK_VERBOSE=1]")
    var verbose = false

    @Option(help: "The log level: trace, debug, info, notice, warning, error. [EVENTACK_LOG_LEVEL, default info]")
    var logLevel: String?

    @Option(
        help: """
            Keep sessions in PostgreSQL (postgres://user[:password]@host[:port]/database) so that they survive a \
            crash and resume on any node sharing it; by default they live in this process. [EVENTACK_STORE]
            """)
    var store: String?

    @Option(help: "This node's id in a cluster: keep it across restarts. [EVENTACK_NODE_ID, default node-1]")
    var nodeId: String?

    func run() async throws {
        let settings = Settings()
        let verbose = settings.flag(self.verbose, "VERBOSE")
        let logger = try makeLogger(settings, verbose: verbose)
        let tokenTable = try makeTokenTable(settings)
        let configuration = try makeConfiguration(settings, verbose: verbose)
        let nodeID = nodeId ?? settings.environment["EVENTACK_NODE_ID"] ?? "node-1"
        let sessionStore = try await openStore(settings, node: nodeID, logger: logger)
        defer { sessionStore?.running.cancel() }
        let service = ReconcilerService(
            configuration: configuration,
            maxQueuedFrames: try settings.value(maxQueuedFrames, "MAX_QUEUED_FRAMES", 4096),
            store: sessionStore?.store)
        let agent = try makeAgent(settings, service: service, store: sessionStore?.store, node: nodeID, logger: logger)
        let bench = try makeBench(settings, service: service, window: Int(configuration.window))
        let limits = try makeLimits(settings)
        let shuttingDown = Atomic<Bool>(false)
        let isShuttingDown: @Sendable () -> Bool = { shuttingDown.load(ordering: .relaxed) }
        let router = Router()
        if let webRoot = webRoot ?? settings.environment["EVENTACK_WEB_ROOT"] {
            // The pages are static files: no template, no build step (issue 27).
            router.middlewares.add(BrowserHeaders())
            router.middlewares.add(FileMiddleware(webRoot, searchForIndexHtml: true, logger: logger))
        }
        let storeProbe = StoreProbe()
        let tickets = TicketBook()
        let origins = OriginPolicy(
            allowed: (allowedOrigins ?? settings.environment["EVENTACK_ALLOWED_ORIGINS"] ?? "").split(separator: ",")
                .map(String.init).filter { !$0.isEmpty })
        let gateway = try makeGateway(settings, maxEventBytes: configuration.maxFrameBytes, logger: logger)
        Routes(
            service: service, storeProbe: storeProbe, agent: agent, bench: bench, tokens: tokenTable,
            tickets: tickets, agUIAgentNames: gateway?.agentNames ?? [], node: nodeID,
            metrics: ServerMetrics(service: service, limits: limits, activeRuns: { agent.activeRuns }),
            isShuttingDown: isShuttingDown
        ).add(to: router)
        // With a store, runs and producer ids are kept in it, and a request for a run another node serves is relayed
        // there (EA-PUB-13).
        let publish = PublishService(
            service: service, runIDs: RunIDGenerator(node: nodeID, boot: UInt64.random(in: .min ... .max)),
            ledger: sessionStore?.store)
        publish.start()
        defer { publish.stop() }
        let relay = sessionStore.map { sessionStore in
            PostgresPublishRelay(store: sessionStore.store, logger: logger) { operation in
                await PublishEndpoint(publish: publish, agents: gateway).performHere(operation)
            }
        }
        let publishRoutes = PublishRoutes(publish: publish, relay: relay, agents: gateway, authenticator: tokenTable)
        gateway?.attach(publishRoutes.endpoint)
        publishRoutes.add(to: router)
        var observe: (@Sendable (SessionID?, String) -> Void)?
        if let bench { observe = { session, text in bench.frameArrived(session: session, text: text) } }
        let app = Application(
            router: router,
            server: EventAckWebSocket.serverBuilder(
                service: service, authenticator: tokenTable, limits: limits,
                maxFrameBytes: configuration.maxFrameBytes, tickets: tickets, origins: origins,
                isShuttingDown: isShuttingDown, observe: observe
            ),
            configuration: .init(
                address: .hostname(
                    try settings.value(host, "HOST", "127.0.0.1"), port: try settings.value(port, "PORT", 8080)),
                serverName: "agent-server"),
            // Scripts wait for this line to learn the port.
            onServerRunning: { Console.line("agent-server listening on \($0.localAddress?.port ?? 0)") },
            logger: logger)
        let cluster = sessionStore.map {
            ClusterNode(
                service: service, store: $0.store, logger: logger, probe: storeProbe,
                endOrphanedAgentRuns: { await publish.endOrphanedAgentRuns($0) })
        }
        let bye = ByeOnShutdown(
            service: service, drainMs: try settings.value(drainMs, "DRAIN_MS", 3_000),
            onShutdown: { shuttingDown.store(true, ordering: .relaxed) })
        do {
            try await Self.serviceGroup(
                service: service, app: app, cluster: cluster, relay: relay, bye: bye, logger: logger
            ).run()
        } catch {
            await gateway?.shutdown()
            throw error
        }
        // The agents' HTTP client is shut down before it goes, as async-http-client requires.
        await gateway?.shutdown()
    }
}

extension AgentServerCommand {
    /// Options fall back to `EVENTACK_NAME` environment variables, then to defaults.
    struct Settings {
        let environment = ProcessInfo.processInfo.environment

        func value<T: LosslessStringConvertible>(_ value: T?, _ name: String, _ fallback: T) throws -> T {
            if let value { return value }
            guard let text = environment["EVENTACK_" + name] else { return fallback }
            guard let parsed = T(text) else { throw ValidationError("EVENTACK_\(name) is not valid: \(text)") }
            return parsed
        }

        func flag(_ value: Bool, _ name: String) -> Bool {
            value || ["1", "true", "yes"].contains(environment["EVENTACK_" + name] ?? "")
        }
    }

    func makeLogger(_ settings: Settings, verbose: Bool) throws -> Logger {
        var logger = Logger(label: "agent-server")
        let levelName =
            logLevel ?? settings.environment["EVENTACK_LOG_LEVEL"] ?? (verbose ? "debug" : "info")
        guard let level = Logger.Level(rawValue: levelName) else {
            throw ValidationError("unknown log level \(levelName)")
        }
        logger.logLevel = level
        return logger
    }

    /// The simulated agents, emitting through the cluster's router.
    func makeAgent(
        _ settings: Settings, service: ReconcilerService, store: PostgresSessionStore?, node: String, logger: Logger
    ) throws -> SimulatedAgent {
        SimulatedAgent(
            router: SessionRouter(
                service: service, store: store, logger: logger,
                terminalKinds: service.configuration.runProfile?.terminalKinds ?? []),
            logger: logger, maxRunsPerSession: try settings.value(maxRunsPerSession, "MAX_RUNS_PER_SESSION", 8),
            node: node)
    }

    /// With `--ag-ui-agents`: the gateway that runs them.
    func makeGateway(_ settings: Settings, maxEventBytes: Int, logger: Logger) throws -> AGUIGateway? {
        var agents: [String: AGUIGateway.Agent] = [:]
        if let path = agUIAgentsFile ?? settings.environment["EVENTACK_AG_UI_AGENTS_FILE"] {
            agents = try AGUIGateway.agents(fromFile: path)
        }
        if let text = agUIAgents ?? settings.environment["EVENTACK_AG_UI_AGENTS"] {
            agents.merge(try AGUIGateway.agents(from: text)) { _, listed in listed }
        }
        guard !agents.isEmpty else { return nil }
        return AGUIGateway(
            agents: agents, readTimeoutMs: try settings.value(agUIReadTimeoutMs, "AG_UI_READ_TIMEOUT_MS", 30_000),
            maxRunsPerUser: try settings.value(maxAgentRunsPerUser, "MAX_AGENT_RUNS_PER_USER", 4),
            maxEventBytes: maxEventBytes, logger: logger)
    }

    /// With `--bench`: the load benchmark's server half.
    func makeBench(_ settings: Settings, service: ReconcilerService, window: Int) throws -> LoadBenchmark? {
        guard settings.flag(self.bench, "BENCH") else { return nil }
        let timeout = Duration.milliseconds(try settings.value(benchTimeoutMs, "BENCH_TIMEOUT_MS", 30_000))
        return LoadBenchmark(service: service, window: window, ackTimeout: timeout)
    }

    /// The connection limits.
    func makeLimits(_ settings: Settings) throws -> ConnectionGuard.Limits {
        ConnectionGuard.Limits(
            maxConnections: try settings.value(maxConnections, "MAX_CONNECTIONS", 768),
            maxAnonymous: try settings.value(maxAnonymousConnections, "MAX_ANONYMOUS_CONNECTIONS", 128),
            headTimeoutMs: try settings.value(headTimeoutMs, "HEAD_TIMEOUT_MS", 5_000))
    }

    /// Users' tokens from `--tokens-file`, `--tokens` or the environment, and the operator's.
    func makeTokenTable(_ settings: Settings) throws -> TokenTable {
        let environment = settings.environment
        let tokenText =
            try (tokensFile ?? environment["EVENTACK_TOKENS_FILE"]).map {
                try String(contentsOfFile: $0, encoding: .utf8)
            }
            ?? tokens ?? environment["EVENTACK_TOKENS"] ?? "alice-token=alice,bob-token=bob"
        var table = try TokenTable(tokenText)
        let publisherText =
            try (publisherTokensFile ?? environment["EVENTACK_PUBLISHER_TOKENS_FILE"]).map {
                try String(contentsOfFile: $0, encoding: .utf8)
            } ?? publisherTokens ?? environment["EVENTACK_PUBLISHER_TOKENS"]
        if let publisherText { try table.addPublishers(publisherText) }
        table.operatorToken = operatorToken ?? environment["EVENTACK_OPERATOR_TOKEN"]
        return table
    }

    func makeConfiguration(_ settings: Settings, verbose: Bool) throws -> ReconcilerConfiguration {
        var configuration = ReconcilerConfiguration()
        configuration.resumeWindowMs = try settings.value(resumeWindowMs, "RESUME_WINDOW_MS", 120_000)
        configuration.window = try settings.value(window, "WINDOW", 256)
        configuration.maxQueuedEvents = try settings.value(maxQueuedEvents, "MAX_QUEUED_EVENTS", 4096)
        configuration.maxSessionsPerPrincipal = try settings.value(
            maxSessionsPerPrincipal, "MAX_SESSIONS_PER_PRINCIPAL", 64)
        configuration.reportsEachConfirmation = verbose
        let idleTimeout = try settings.value(runIdleTimeoutMs, "RUN_IDLE_TIMEOUT_MS", 60_000)
        configuration.runIdleTimeoutMs = idleTimeout == 0 ? nil : idleTimeout
        return configuration.normalized()
    }

    /// With `--store`: the PostgreSQL store, its pool running (cancel `running` to stop it), its tables migrated.
    func openStore(
        _ settings: Settings, node: String, logger: Logger
    ) async throws -> (store: PostgresSessionStore, running: Task<Void, Never>)? {
        guard let url = store ?? settings.environment["EVENTACK_STORE"] else { return nil }
        let postgres = try PostgresSessionStore(url: url, node: node, logger: logger)
        let running = Task { await postgres.run() }
        try await postgres.migrate()
        return (postgres, running)
    }

    /// Services stop in reverse order: first `bye` to every client (and wait for it to be written), then the HTTP
    /// server stops accepting and closes what is left, then the cluster's loop, the final report, and the log.
    static func serviceGroup(
        service: ReconcilerService, app: some Service, cluster: ClusterNode?, relay: PostgresPublishRelay?,
        bye: ByeOnShutdown, logger: Logger
    ) -> ServiceGroup {
        let clusterServices: [ServiceGroupConfiguration.ServiceConfiguration] =
            (cluster.map { [.init(service: $0)] } ?? []) + (relay.map { [.init(service: $0)] } ?? [])
        return ServiceGroup(
            configuration: .init(
                services: [
                    .init(service: ReconciliationLog(service: service, logger: logger)),
                    .init(service: FinalReport(service: service, logger: logger)),
                ] + clusterServices + [.init(service: app), .init(service: bye)],
                gracefulShutdownSignals: [.sigterm, .sigint],
                logger: logger))
    }
}

/// Logs the reconciliation stream with the session and run as metadata; every peer-chosen string is escaped
/// (EA-ISO-5). Runs until its turn to stop, after the final report.
struct ReconciliationLog: Service {
    let service: ReconcilerService
    let logger: Logger

    func run() async throws {
        await withGracefulShutdownHandler {
            for await event in service.events { log(event) }
        } onGracefulShutdown: {
        }
        // The stream ends at the reconciler's shutdown, before this service's turn: wait for it.
        try? await gracefulShutdown()
    }

    private func log(_ event: ReconciliationEvent) {
        let esc = { (text: String) in Logger.MetadataValue.string(DisplayText.escaping(text)) }
        switch event {
        case .failed(let reference, let level, let reason):
            logger.warning(
                "event failed",
                metadata: [
                    "session": esc(reference.session.rawValue), "run": esc(reference.run), "seq": "\(reference.seq)",
                    "kind": esc(reference.kind), "level": "\(level.rawValue)", "reason": esc(reason.rawValue),
                ])
        case .overdue(let reference, let level, let waitedMs):
            logger.warning(
                "event overdue",
                metadata: [
                    "session": esc(reference.session.rawValue), "run": esc(reference.run), "seq": "\(reference.seq)",
                    "level": "\(level.rawValue)", "waitedMs": "\(waitedMs)",
                ])
        case .runFinished(let report):
            logger.info(
                "run finished",
                metadata: [
                    "session": esc(report.session.rawValue), "run": esc(report.run), "principal": esc(report.principal),
                    "verdict": "\(report.verdict.rawValue)", "outcome": "\(report.outcome?.rawValue ?? "none")",
                    "failures": esc(report.failures.map(\.description).joined(separator: "; ")),
                ])
        case .confirmed:
            logger.debug("\(DisplayText.escaping(String(describing: event)))")
        case .protocolError, .clientError, .resumeRejected, .sessionExpired, .storeFailed:
            logger.warning("\(DisplayText.escaping(String(describing: event)))")
        default:
            logger.info("\(DisplayText.escaping(String(describing: event)))")
        }
    }
}

/// First to stop: `bye` to every client, and a wait (bounded) until each got it and closed.
struct ByeOnShutdown: Service {
    let service: ReconcilerService
    let drainMs: UInt64
    let onShutdown: @Sendable () -> Void

    func run() async throws {
        try? await gracefulShutdown()
        onShutdown()
        await service.shutdown(drainMs: drainMs)
    }
}

/// After the HTTP server stopped: the final report, with what is still unconfirmed.
struct FinalReport: Service {
    let service: ReconcilerService
    let logger: Logger

    func run() async throws {
        try? await gracefulShutdown()
        let report = service.report(limit: 200)
        logger.info(
            "shutting down",
            metadata: [
                "unconfirmed": "\(report.overall.pending)", "failed": "\(report.overall.failed)",
                "confirmed": "\(report.overall.confirmed)",
            ])
        Console.line("final report (events still pending were unconfirmed at shutdown):\n" + report.text)
    }
}

/// Unbuffered lines on standard output, so that scripts see them at once.
enum Console {
    static func line(_ text: String) {
        var bytes = Array((text.hasSuffix("\n") ? text : text + "\n").utf8)
        _ = bytes.withUnsafeMutableBytes { write(1, $0.baseAddress, $0.count) }
    }
}
