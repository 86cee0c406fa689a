import EventAckProtocol

/// One transport connection, as numbered by the ``Reconciler`` when the host opened it. Never reused.
public struct ConnectionID: Hashable, Sendable, Comparable, CustomStringConvertible {
    /// The number; increases with every opened connection.
    public let rawValue: UInt64

    /// Wraps a number (the reconciler makes these; tests may too).
    public init(rawValue: UInt64) { self.rawValue = rawValue }

    public static func < (lhs: Self, rhs: Self) -> Bool { lhs.rawValue < rhs.rawValue }

    public var description: String { "c\(rawValue)" }
}

/// A session id as it appears on the wire (`welcome.session`). The host emits to a session. Encodes as the bare
/// string.
public struct SessionID: RawRepresentable, Hashable, Sendable, Codable, CustomStringConvertible,
    ExpressibleByStringLiteral
{
    /// The id string.
    public let rawValue: String

    /// Wraps an id string.
    public init(_ rawValue: String) { self.rawValue = rawValue }

    /// Wraps an id string.
    public init(rawValue: String) { self.rawValue = rawValue }

    public init(stringLiteral value: String) { self.rawValue = value }

    public var description: String { rawValue }
}

/// Where an event lives: enough to find it in logs and reports. Never includes the payload or the token.
public struct EventReference: Hashable, Sendable, Codable, CustomStringConvertible {
    /// The session the event was emitted to.
    public var session: SessionID
    /// The session's principal (the authenticated user).
    public var principal: String
    /// The run it belongs to.
    public var run: String
    /// Its seq in the session.
    public var seq: Seq
    /// Its kind.
    public var kind: String

    /// Creates a reference.
    public init(session: SessionID, principal: String, run: String, seq: Seq, kind: String) {
        self.session = session
        self.principal = principal
        self.run = run
        self.seq = seq
        self.kind = kind
    }

    public var description: String { "\(session)#\(seq) \(run)/\(kind)" }
}
