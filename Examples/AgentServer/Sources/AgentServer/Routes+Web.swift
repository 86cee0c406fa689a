import EventAckHummingbird
import EventAckPostgres
import EventAckReconciler
import Foundation
import Hummingbird
import NIOCore

/// What the browser pages need beside the WebSocket (Spec/BROWSER.md): tickets, the list of what a user can start,
/// and the operator's live dashboard feed. The pages themselves are static files (`--web-root`).
extension Routes {
    func addWeb(to router: Router<BasicRequestContext>) {
        router.post("/v1/tickets") { request, _ -> Response in try issueTicket(request) }
        router.get("/v1/agents") { request, _ -> Response in try startable(request) }
        router.get("/v1/dashboard/events") { request, _ -> Response in dashboardFeed(request) }
    }

    /// `POST /v1/tickets` with a user's or the operator's bearer token: a single-use ticket for a WebSocket upgrade or
    /// an `EventSource` (BROWSER.md § 1), `{"ticket", "expiresInMs"}` (EA-WEB-1).
    private func issueTicket(_ request: Request) throws -> Response {
        let credential = tokens.credential(of: request.headers)
        switch credential {
        case .user, .operator:
            let ticket = tickets.issue(for: credential)
            return try Self.json(TicketAnswer(ticket: ticket, expiresInMs: tickets.lifetimeMs), .created)
        case .missing: return Self.unauthorized("invalid_request", "a bearer token is required")
        case .unknown: return Self.unauthorized("invalid_token", "the bearer token is not valid")
        case .publisher: return Self.error(.forbidden, "forbidden", "a publisher's token opens no browser connection")
        }
    }

    /// Who sent a request: its bearer token's credential or, without one, its `?ticket=`'s (spent when
    /// `spendingTicket`); `nil` for a ticket that is unknown, expired or spent.
    func credential(of request: Request, spendingTicket: Bool) -> EventAckCredential? {
        guard request.headers[.authorization] == nil,
            let ticket = TicketBook.ticket(inTarget: request.uri.description)
        else { return tokens.credential(of: request.headers) }
        return spendingTicket ? tickets.redeem(ticket) : tickets.peek(ticket)
    }

    static var invalidTicket: Response {
        unauthorized(
            "invalid_ticket", "the ticket is unknown, expired or already used; ask POST /v1/tickets for another")
    }

    struct TicketAnswer: Encodable {
        var ticket: String
        var expiresInMs: UInt64
    }

    /// `GET /v1/agents`: the simulated scenarios (`POST /runs`) and the AG-UI agents (`POST /v1/runs` with `"agent"`)
    /// a user may start.
    private func startable(_ request: Request) throws -> Response {
        switch reportScope(request) {
        case .refused(let refusal): return refusal
        case .accepted:
            return try Self.json(
                ["scenarios": SimulatedAgent.Scenario.allCases.map(\.rawValue), "agUIAgents": agUIAgentNames], .ok)
        }
    }

    /// `GET /v1/dashboard/events?ticket=…` (or the operator's bearer token): Server-Sent Events, one `report` event a
    /// second — `{"node", "report", "cluster"?}`, the report of `Spec/REPORT.md` and, with a store, the cluster's
    /// (nodes and their heartbeat age; read every fifth second, it reads every run). A reconnecting `EventSource` needs
    /// a new ticket: a spent one is refused with 401, and the page asks for another.
    private func dashboardFeed(_ request: Request) -> Response {
        guard let credential = credential(of: request, spendingTicket: true) else { return Self.invalidTicket }
        switch credential {
        case .operator: break
        case .missing: return Self.unauthorized("invalid_request", "the operator's ticket or token is required")
        case .unknown: return Self.unauthorized("invalid_token", "the bearer token is not valid")
        case .user, .publisher: return Self.error(.forbidden, "forbidden", "the dashboard is the operator's")
        }
        let (store, node) = (agent.router.store, self.node)
        let body = ResponseBody { writer in
            try await writer.write(ByteBuffer(string: "retry: 2000\n\n"))
            var cluster: ClusterReport?
            var tick = 0
            while !Task.isCancelled {
                let now = UInt64(Date().timeIntervalSince1970 * 1000)
                if let store, tick % 5 == 0 { cluster = try? await store.clusterReport(now: now) }
                let frame = DashboardFrame(node: node, report: report(for: nil), cluster: cluster)
                let json = String(decoding: try Self.encoder.encode(frame), as: UTF8.self)
                try await writer.write(ByteBuffer(string: "event: report\ndata: \(json)\n\n"))
                tick += 1
                try await Task.sleep(for: .seconds(1))
            }
            try await writer.finish(nil)
        }
        return Response(
            status: .ok, headers: [.contentType: "text/event-stream", .cacheControl: "no-cache"], body: body)
    }

    struct DashboardFrame: Encodable {
        var node: String
        var report: ConfirmationReport
        var cluster: ClusterReport?
    }
}
