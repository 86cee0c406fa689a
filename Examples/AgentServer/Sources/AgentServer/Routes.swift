import EventAckReconciler
import Foundation
import Hummingbird

/// The HTTP side of the server: start runs, read the report, run the load benchmark.
struct Routes: Sendable {
    let service: ReconcilerService
    let agent: SimulatedAgent
    let bench: LoadBenchmark
    let tokens: TokenTable

    struct StartRun: Decodable {
        var session: String
        var scenario: String?
    }

    func add(to router: Router<BasicRequestContext>) {
        router.post("/runs") { request, context -> Response in
            guard let principal = tokens.principal(of: request.headers) else {
                return Self.text("unauthorized\n", .unauthorized)
            }
            let body = try await request.decode(as: StartRun.self, context: context)
            let session = SessionID(body.session)
            // Isolation: a principal starts runs only in its own sessions.
            guard service.sessions(of: principal).contains(session) else {
                return Self.text("no session \(body.session) of \(principal)\n", .notFound)
            }
            guard let scenario = SimulatedAgent.Scenario(rawValue: body.scenario ?? "quick") else {
                let known = SimulatedAgent.Scenario.allCases.map(\.rawValue).joined(separator: ", ")
                return Self.text("unknown scenario; known: \(known)\n", .badRequest)
            }
            let run = try agent.start(scenario, in: session)
            return try Self.json(["run": run, "scenario": scenario.rawValue], .accepted)
        }
        router.get("/report") { _, _ -> Response in
            try Self.json(service.report(), .ok)
        }
        router.get("/report.txt") { _, _ -> Response in
            Self.text(service.report().text, .ok)
        }
        router.post("/bench") { request, context -> Response in
            guard let principal = tokens.principal(of: request.headers) else {
                return Self.text("unauthorized\n", .unauthorized)
            }
            let body = try await request.decode(as: LoadBenchmark.Request.self, context: context)
            guard service.sessions(of: principal).contains(SessionID(body.session)) else {
                return Self.text("no session \(body.session) of \(principal)\n", .notFound)
            }
            return try Self.json(try await bench.run(body), .ok)
        }
    }

    static func json(_ value: some Encodable, _ status: HTTPResponse.Status) throws -> Response {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
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
