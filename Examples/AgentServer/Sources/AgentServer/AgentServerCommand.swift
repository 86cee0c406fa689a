import ArgumentParser
import EventAckProtocol
import EventAckReconciler
import Foundation
import Hummingbird
import HummingbirdWebSocket
import Logging
import ServiceLifecycle

/// `agent-server`: an EventAck reconciler behind Hummingbird, with a simulated agent.
///
/// - `GET /eventack` upgrades to a WebSocket (subprotocol `eventack.v1`) for a request with a known bearer token;
///   any other upgrade is refused.
/// - `POST /runs` `{"session": ID, "scenario": "quick"|"complex"|"tool_error"}` (same bearer token; the session
///   must be the caller's) starts an agent run on that session and answers `{"run": NAME}`.
/// - `GET /report` is the confirmation report as JSON (`Spec/REPORT.md`), `GET /report.txt` for people.
/// - `POST /bench` runs the server's half of the load benchmark.
///
/// On SIGINT or SIGTERM it says `bye` to every client and prints the final report, unconfirmed events included.
@main
struct AgentServerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "agent-server", abstract: "An EventAck reconciler server with a simulated AI agent.")

    @Option(help: "The address to listen on.")
    var host = "127.0.0.1"

    @Option(help: "The port to listen on; 0 picks a free one (the chosen port is printed).")
    var port = 8080

    @Option(help: "Bearer tokens: token=principal pairs separated by commas (default: $EVENTACK_TOKENS).")
    var tokens: String?

    @Option(help: "A file of token=principal lines.")
    var tokensFile: String?

    @Option(help: "How long a disconnected session waits for its client to resume, in milliseconds.")
    var resumeWindowMs: UInt64 = 120_000

    @Option(help: "The most events outstanding per session.")
    var window: UInt64 = 256

    @Option(help: "The most events queued per session beyond the window.")
    var maxQueuedEvents = 4096

    @Flag(help: "Log every confirmation, not only failures and session changes.")
    var verbose = false

    func run() async throws {
        var logger = Logger(label: "agent-server")
        logger.logLevel = verbose ? .debug : .info
        let tokenText =
            try tokensFile.map { try String(contentsOfFile: $0, encoding: .utf8) } ?? tokens
            ?? ProcessInfo.processInfo.environment["EVENTACK_TOKENS"] ?? "alice-token=alice,bob-token=bob"
        let tokenTable = try TokenTable(tokenText)

        var configuration = ReconcilerConfiguration()
        configuration.resumeWindowMs = resumeWindowMs
        configuration.window = window
        configuration.maxQueuedEvents = maxQueuedEvents
        configuration.reportsEachConfirmation = verbose
        let service = ReconcilerService(configuration: configuration)
        let agent = SimulatedAgent(service: service, logger: logger)
        let bench = LoadBenchmark(service: service, window: Int(window))
        let maxFrameBytes = configuration.maxFrameBytes

        let router = Router()
        Routes(service: service, agent: agent, bench: bench, tokens: tokenTable).add(to: router)

        let webSocketRouter = Router(context: BasicWebSocketRequestContext.self)
        webSocketRouter.ws("/eventack") { request, _ in
            // Authenticate the upgrade (EA-HS-3) and agree on the subprotocol.
            guard tokenTable.principal(of: request.headers) != nil else { return .dontUpgrade }
            let offered = request.headers[values: .secWebSocketProtocol].flatMap { $0.split(separator: ",") }
            guard offered.contains(where: { $0.trimmingCharacters(in: .whitespaces) == "eventack.v1" }) else {
                return .dontUpgrade
            }
            return .upgrade([.secWebSocketProtocol: "eventack.v1"])
        } onUpgrade: { inbound, outbound, context in
            guard let principal = tokenTable.principal(of: context.request.headers) else { return }
            try await WebSocketServerConnection.serve(
                service, principal: principal, inbound: inbound, outbound: outbound, maxFrameBytes: maxFrameBytes,
                onFrame: bench.frameArrived)
        }

        let app = Application(
            router: router,
            server: .http1WebSocketUpgrade(
                webSocketRouter: webSocketRouter,
                configuration: .init(ws: WebSocketServerConfiguration(maxFrameSize: maxFrameBytes))),
            configuration: .init(address: .hostname(host, port: port), serverName: "agent-server"),
            services: [
                ReconciliationLog(service: service, logger: logger),
                ShutdownReport(service: service, logger: logger),
            ],
            onServerRunning: { channel in
                // Scripts wait for this line to learn the port.
                Console.line("agent-server listening on \(channel.localAddress?.port ?? 0)")
            },
            logger: logger
        )
        try await app.runService()
    }
}

/// Logs the reconciliation stream: failures and overdue events as warnings, the rest as information.
struct ReconciliationLog: Service {
    let service: ReconcilerService
    let logger: Logger

    func run() async throws {
        await withGracefulShutdownHandler {
            for await event in service.events {
                switch event {
                case .failed, .overdue, .protocolError, .clientError, .resumeRejected, .sessionExpired:
                    logger.warning("\(event)")
                case .runFinished(let report):
                    logger.info(
                        "run finished",
                        metadata: [
                            "run": "\(report.run)", "verdict": "\(report.verdict.rawValue)",
                            "principal": "\(report.principal)",
                            "failures": "\(report.failures.map(\.description).joined(separator: "; "))",
                        ])
                case .confirmed:
                    logger.debug("\(event)")
                default:
                    logger.info("\(event)")
                }
            }
        } onGracefulShutdown: {
        }
    }
}

/// On graceful shutdown: `bye` to every client, then the final report, with what is still unconfirmed.
struct ShutdownReport: Service {
    let service: ReconcilerService
    let logger: Logger

    func run() async throws {
        try? await gracefulShutdown()
        let report = service.shutdown()
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
