import HTTPTypes

/// Who may open an EventAck WebSocket, decided in one place for the gate that answers refusals and for the upgrade
/// itself: the page's `Origin` (``OriginPolicy``), then the credential — the `Authorization` header through the
/// authenticator or, without one, a single-use `?ticket=` (``TicketBook``) — then the subprotocol and shutdown.
struct UpgradeAccess: Sendable {
    let authenticator: any EventAckAuthenticator
    let tickets: TicketBook?
    let origins: OriginPolicy

    enum Decision {
        case accepted(principal: String)
        case refused(UpgradeRefusal)

        var refusal: UpgradeRefusal? {
            if case .refused(let refusal) = self { return refusal }
            return nil
        }
    }

    /// The decision for a request with these header fields and target (`/eventack?ticket=…`). The gate decides first
    /// without spending the ticket; the upgrade decides again and spends it, so that a ticket opens one connection.
    /// `host` is the request's `Host` (HTTPTypes keeps it as the request's authority, not among its fields).
    func decide(
        fields: HTTPFields, host: String?, target: String, spendingTicket: Bool, isShuttingDown: Bool
    ) -> Decision {
        guard origins.allows(origin: fields[.origin], host: host) else {
            return .refused(
                UpgradeRefusal(
                    status: .forbidden, code: "origin_not_allowed",
                    message: "pages of this origin may not open EventAck connections"))
        }
        let credential: EventAckCredential
        if fields[.authorization] == nil, let tickets, let ticket = TicketBook.ticket(inTarget: target) {
            guard let ticketCredential = spendingTicket ? tickets.redeem(ticket) : tickets.peek(ticket) else {
                return .refused(
                    UpgradeRefusal(
                        status: .unauthorized, code: "invalid_ticket",
                        message: "the ticket is unknown, expired or already used; ask POST /v1/tickets for a new one"))
            }
            credential = ticketCredential
        } else {
            credential = authenticator.credential(of: fields)
        }
        if let refusal = EventAckWebSocket.refusal(
            credential, subprotocols: fields[values: .secWebSocketProtocol], isShuttingDown: isShuttingDown)
        {
            return .refused(refusal)
        }
        guard let principal = credential.user else {
            return .refused(UpgradeRefusal(status: .forbidden, code: "forbidden", message: "only users open sessions"))
        }
        return .accepted(principal: principal)
    }
}
