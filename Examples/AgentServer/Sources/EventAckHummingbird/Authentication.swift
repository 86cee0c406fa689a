import HTTPTypes

/// Who a request's credential says its sender is.
public enum EventAckCredential: Sendable, Hashable {
    /// No credential.
    case missing
    /// A credential nobody was given.
    case unknown
    /// A user, by principal: may open and resume their own sessions, start runs in them and read their report.
    case user(String)
    /// A publisher (an agent backend), by name: may open runs in any user's sessions and publish to them — the
    /// publish API's role; it opens no session of its own.
    case publisher(String)
    /// The operator: reads every report and metric; opens no session.
    case `operator`

    /// The principal of a user's credential.
    public var user: String? {
        if case .user(let principal) = self { return principal }
        return nil
    }
}

/// Decides who sent a request, from its header fields (a bearer token, a cookie, a ticket…): the pluggable part of
/// authentication. ``TokenTable`` is one implementation; an app plugs in its own (JWTs, sessions).
public protocol EventAckAuthenticator: Sendable {
    /// The credential `headers` carry.
    func credential(of headers: HTTPFields) -> EventAckCredential
}
