import EventAckReconciler
import HTTPTypes
import Hummingbird
import HummingbirdCore
import HummingbirdWebSocket
import Logging
import NIOCore
import NIOHTTP1

/// Serving EventAck from a Hummingbird 2 application: WebSocket upgrades at one path, authenticated, each upgraded
/// connection served by a `ReconcilerService`.
///
/// ```swift
/// let service = ReconcilerService()
/// let app = Application(
///     router: router,
///     server: EventAckWebSocket.serverBuilder(service: service, authenticator: try TokenTable("alice-token=alice")),
///     configuration: .init(address: .hostname("127.0.0.1", port: 8080)))
/// try await app.runService()
/// ```
public enum EventAckWebSocket {
    /// The WebSocket subprotocol (§ 2).
    public static let subprotocol = "eventack.v1"

    /// An HTTP server that upgrades `GET path` to an EventAck WebSocket for users (EA-HS-3) and serves every other
    /// request with the application's router.
    ///
    /// A request to upgrade without a user's credential is answered as HTTP clients expect — 401 with
    /// `WWW-Authenticate` when the credential is missing or unknown, 403 for a publisher's or the operator's, 400
    /// without the `eventack.v1` subprotocol, 503 while `isShuttingDown` — each with a JSON
    /// `{"error", "message"}` body. Every connection counts against `limits` (connections open, connections that
    /// have not sent their request head, and how long they may take), so that silent sockets cannot lock users out.
    ///
    /// - Parameters:
    ///   - service: serves the upgraded connections.
    ///   - authenticator: who a request is; only users open sessions.
    ///   - limits: the connection limits, shared by the whole server (and readable for metrics).
    ///   - maxFrameBytes: the largest message accepted (EA-MSG-8); the service's configuration should say the same.
    ///   - path: where the WebSocket is served.
    ///   - tickets: when given, an upgrade without `Authorization` may carry `?ticket=` from this book instead: the
    ///     way browsers authenticate (Spec/BROWSER.md EA-WEB-1). The ticket is spent by the upgrade; a spent, expired
    ///     or unknown one is refused with 401 `invalid_ticket`.
    ///   - origins: which pages may upgrade (EA-WEB-2): an `Origin` neither the server's own nor allowed gets 403
    ///     `origin_not_allowed`; requests without `Origin` (native clients) are not affected.
    ///   - isShuttingDown: upgrades are refused (503) once it returns true.
    ///   - observe: see `ReconcilerService.open(_:principal:observe:)`.
    public static func serverBuilder(
        service: ReconcilerService,
        authenticator: some EventAckAuthenticator,
        limits: ConnectionGuard.Limits = .init(maxConnections: 768, maxAnonymous: 128, headTimeoutMs: 5_000),
        maxFrameBytes: Int = 1 << 20,
        path: String = "/eventack",
        tickets: TicketBook? = nil,
        origins: OriginPolicy = OriginPolicy(),
        isShuttingDown: @escaping @Sendable () -> Bool = { false },
        observe: (@Sendable (SessionID?, String) -> Void)? = nil
    ) -> HTTPServerBuilder {
        let access = UpgradeAccess(authenticator: authenticator, tickets: tickets, origins: origins)
        let upgradeCheck: @Sendable (HTTPRequestHead) -> UpgradeRefusal? = { head in
            var fields = HTTPFields()
            for header in head.headers {
                if let name = HTTPField.Name(header.name) { fields.append(HTTPField(name: name, value: header.value)) }
            }
            // The gate only looks: the ticket is spent by the upgrade decision below.
            return access.decide(
                fields: fields, host: head.headers["host"].first, target: head.uri, spendingTicket: false,
                isShuttingDown: isShuttingDown()
            ).refusal
        }
        // Single WebSocket frames up to 16 × the message limit are read (and discarded past the limit, EA-MSG-8);
        // beyond that the transport closes the connection. No WebSocket auto-ping: EventAck's own heartbeat
        // (EA-LIVE-4) already detects dead peers, and each auto-ping is one more task per connection.
        let webSocket = WebSocketServerConfiguration(
            maxFrameSize: 16 * maxFrameBytes, autoPing: .disabled, validateUTF8: false)
        // The upgrade is decided from the request alone, not through a WebSocket router: hummingbird-websocket
        // 2.8.1's router keeps each upgrade's request context in a reference cycle (the context holds the box that
        // holds the context), which leaked ~0.7 KB per connection and kept memory growing with connection churn.
        let shouldUpgrade:
            @Sendable (HTTPRequest, any Channel, Logger) throws -> ShouldUpgradeResult<
                WebSocketDataHandler<HTTP1WebSocketUpgradeChannel.Context>
            > = { request, channel, _ in
                // The UpgradeGate has already answered requests it refuses; this decides what remains.
                let requested = request.path.map { $0.split(separator: "?", maxSplits: 1).first.map(String.init) ?? $0 }
                guard requested == path,
                    case .accepted(let principal) = access.decide(
                        fields: request.headerFields, host: request.authority, target: request.path ?? "",
                        spendingTicket: true,
                        isShuttingDown: isShuttingDown())
                else { return .dontUpgrade }
                return .upgrade([.secWebSocketProtocol: subprotocol]) { inbound, outbound, _ in
                    try await WebSocketServerConnection.serve(
                        service, principal: principal, inbound: inbound, outbound: outbound,
                        maxFrameBytes: maxFrameBytes, channel: channel, observe: observe)
                }
            }
        return HTTPServerBuilder { responder in
            GuardedChildChannel(
                base: HTTP1WebSocketUpgradeChannel(
                    responder: responder,
                    configuration: .init(http1: .init(idleTimeout: .seconds(30)), ws: webSocket),
                    shouldUpgrade: shouldUpgrade),
                limits: limits, upgradeCheck: upgradeCheck)
        }
    }

    /// Why an upgrade with `credential` and these offered subprotocols is refused, if it is: the one place the
    /// refusals are decided (a route that answers `GET path` requests that were not upgraded uses it too).
    public static func refusal(
        _ credential: EventAckCredential, subprotocols: [String], isShuttingDown: Bool
    ) -> UpgradeRefusal? {
        switch credential {
        case .missing:
            return .init(status: .unauthorized, code: "invalid_request", message: "a bearer token is required")
        case .unknown:
            return .init(status: .unauthorized, code: "invalid_token", message: "the bearer token is not valid")
        case .operator:
            return .init(status: .forbidden, code: "forbidden", message: "the operator token does not open sessions")
        case .publisher:
            return .init(status: .forbidden, code: "forbidden", message: "a publisher's token does not open sessions")
        case .user:
            guard offers(subprotocols) else {
                return .init(status: .badRequest, code: "subprotocol_required", message: "offer eventack.v1")
            }
            return isShuttingDown
                ? .init(status: .serviceUnavailable, code: "shutting_down", message: "the server is stopping") : nil
        }
    }

    /// Whether `values` (each a comma-separated list) offer `eventack.v1`.
    static func offers(_ values: [String]) -> Bool {
        values.flatMap { $0.split(separator: ",") }.contains {
            $0.trimmingCharacters(in: .whitespaces) == subprotocol
        }
    }
}
