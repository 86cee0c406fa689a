import EventAckProtocol
import EventAckPublish
import EventAckReconciler
import Hummingbird
import NIOCore

/// The publish API, version 1, on a Hummingbird router (§ 16 of the spec; `Spec/publish-api.yaml`): what lets an
/// agent backend in any language open runs in users' sessions, publish events idempotently, keep a run alive, and
/// follow what the users confirmed.
///
/// ```swift
/// let publish = PublishService(service: service, runIDs: RunIDGenerator(node: "n1", boot: .random(in: 0...UInt64.max)))
/// publish.start()
/// PublishRoutes(publish: publish, authenticator: tokens).add(to: router)
/// ```
///
/// Publishers' and the operator's credentials may use it; a user's is refused with 403, a missing or unknown one with
/// 401. Every refusal is `{"error": CODE, "message": TEXT}` (and `"path"` for a body that breaks a rule).
public struct PublishRoutes: Sendable {
    /// What performs the operations, here or on the node that serves the run.
    public let endpoint: PublishEndpoint
    public let authenticator: any EventAckAuthenticator
    /// The largest request body taken; larger ones get 413.
    public let maxBodyBytes: Int
    /// How often a confirmations stream with nothing new sends a keepalive comment.
    public let keepaliveMs: UInt64

    /// Routes for `publish`, authenticating with `authenticator`; in a cluster, requests for runs served by another
    /// node reach it through `relay` (EA-PUB-11); `agents` runs AG-UI agents for runs opened with `"agent"`.
    public init(
        publish: PublishService, relay: (any PublishRelay)? = nil, agents: (any AgentGateway)? = nil,
        authenticator: any EventAckAuthenticator, maxBodyBytes: Int = 4 << 20, keepaliveMs: UInt64 = 15_000
    ) {
        self.endpoint = PublishEndpoint(publish: publish, relay: relay, agents: agents)
        self.authenticator = authenticator
        self.maxBodyBytes = maxBodyBytes
        self.keepaliveMs = keepaliveMs
    }

    /// Adds `POST /v1/runs`, `POST /v1/runs/{run}/events`, `POST /v1/runs/{run}/progress`, `GET /v1/runs/{run}` and
    /// `GET /v1/runs/{run}/confirmations` to `router`.
    public func add<Context: RequestContext>(to router: Router<Context>) {
        router.post("/v1/runs") { request, context in
            // A signed-in user may start a run of a configured agent in their own sessions (the chat page does): the
            // one exception to users not opening runs.
            await guarded(request, userMay: mayStartAgentRun) { try await openRun($0) }
        }
        router.post("/v1/runs/:run/events") { request, context in
            await guarded(request) { try await publishEvents($0, run: try runParameter(context)) }
        }
        router.post("/v1/runs/:run/progress") { request, context in
            await guarded(request) { try await progress($0, run: try runParameter(context)) }
        }
        router.get("/v1/runs/:run") { request, context in
            await guarded(request) { _ in await runView(run: try runParameter(context)) }
        }
        router.get("/v1/runs/:run/confirmations") { request, context in
            await guarded(request) { try await confirmations($0, run: try runParameter(context)) }
        }
        for (path, allowed) in Self.methods {
            for method in Self.otherMethods where !allowed.contains(method) {
                router.on(RouterPath(path), method: method) { _, _ in PublishAnswer.methodNotAllowed(allowed) }
            }
        }
    }

    /// The methods answered with 405 where a path does not take them (QUERY: the safe method with a body of
    /// draft-ietf-httpbis-safe-method-w-body).
    static let otherMethods: [HTTPRequest.Method] =
        [.get, .post, .put, .delete, .patch, .options, .trace] + [
            HTTPRequest.Method("QUERY")!
        ]

    /// Each path of the API and the methods it takes; any other method gets 405 with `Allow`.
    static let methods: [(String, [HTTPRequest.Method])] = [
        ("/v1/runs", [.post]), ("/v1/runs/:run/events", [.post]), ("/v1/runs/:run/progress", [.post]),
        ("/v1/runs/:run", [.get, .head]), ("/v1/runs/:run/confirmations", [.get, .head]),
    ]

    /// Authenticates, runs `handle`, and turns a ``PublishError`` into its JSON answer. A user's credential is refused
    /// unless `userMay` allows the request for that user.
    private func guarded(
        _ request: Request, userMay: ((Request, String) async -> (Request, Bool))? = nil,
        _ handle: (Request) async throws -> Response
    ) async -> Response {
        var request = request
        switch authenticator.credential(of: request.headers) {
        case .missing:
            return PublishAnswer.unauthorized("missing_token", "send Authorization: Bearer <publisher token>")
        case .unknown:
            return PublishAnswer.unauthorized("invalid_token", "the bearer token is not valid")
        case .user(let principal):
            guard let userMay else { return Self.userForbidden }
            let (collected, allowed) = await userMay(request, principal)
            guard allowed else { return Self.userForbidden }
            request = collected
        case .publisher, .operator:
            break
        }
        do {
            return try await handle(request)
        } catch let error as PublishError {
            return PublishAnswer.error(error)
        } catch {
            return PublishAnswer.error(PublishError(status: 400, code: "invalid_request", message: "\(error)"))
        }
    }

    static let userForbidden = PublishAnswer.error(
        PublishError(
            status: 403, code: "forbidden",
            message: "a user's token may not publish; it may start a configured agent's run for that user"))

    /// Whether a user may open this run: one of a configured agent, addressed to themself (their name, or one of their
    /// sessions held on this node). The body is read here, and the request handed on with it collected.
    private func mayStartAgentRun(_ request: Request, principal: String) async -> (Request, Bool) {
        var request = request
        guard let buffer = try? await request.collectBody(upTo: maxBodyBytes) else { return (request, false) }
        let text = String(buffer: buffer)
        guard (try? AgentInvocation(body: text)) != nil, let open = try? OpenRunRequest(body: text) else {
            return (request, false)
        }
        switch open.audience {
        case .principal(let named): return (request, named == principal)
        // One of their own sessions held here (the chat page's: its WebSocket is on this node).
        case .session(let session):
            return (request, endpoint.publish.service.sessions(of: principal).contains(session))
        }
    }

    private func runParameter<Context: RequestContext>(_ context: Context) throws(PublishError) -> String {
        guard let run = context.parameters.get("run") else {
            throw PublishError(status: 404, code: "unknown_run", message: "no run in the path")
        }
        return run
    }

    /// The request's body as text, at most ``maxBodyBytes``.
    private func body(of request: Request) async throws(PublishError) -> String {
        if let length = request.headers[.contentLength].flatMap(Int.init), length > maxBodyBytes {
            throw PublishError(status: 413, code: "body_too_large", message: "the body is over \(maxBodyBytes) bytes")
        }
        do {
            var request = request
            let buffer = try await request.collectBody(upTo: maxBodyBytes)
            return String(buffer: buffer)
        } catch {
            throw PublishError(status: 413, code: "body_too_large", message: "the body is over \(maxBodyBytes) bytes")
        }
    }

    private func openRun(_ request: Request) async throws(PublishError) -> Response {
        PublishAnswer.reply(await endpoint.perform(.open(body: try await body(of: request))))
    }

    private func publishEvents(_ request: Request, run: String) async throws(PublishError) -> Response {
        var waitMs = PublishService.defaultWaitMs
        if let text = request.uri.queryParameters["waitMs"] {
            // Its range is checked where the request is performed (here or on the node serving the run).
            guard let value = UInt64(String(text)) else { throw PublishError.invalidWaitMs }
            waitMs = value
        }
        let body = try await body(of: request)
        return PublishAnswer.reply(await endpoint.perform(.events(run: run, body: body, waitMs: waitMs)))
    }

    private func progress(_ request: Request, run: String) async throws(PublishError) -> Response {
        PublishAnswer.reply(await endpoint.perform(.progress(run: run, body: try await body(of: request))))
    }

    private func runView(run: String) async -> Response {
        PublishAnswer.reply(await endpoint.perform(.view(run: run)))
    }
}
