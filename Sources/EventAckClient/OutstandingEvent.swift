import EventAckProtocol

/// A delivered event that still waits for the app's display or value confirmation.
public struct OutstandingEvent: Sendable, Hashable, Codable {
    /// The event's seq.
    public var seq: Seq
    /// Its run.
    public var run: String
    /// Its kind.
    public var kind: String
    /// The level it needs.
    public var needs: ConfirmationLevel
    /// Whether the app already confirmed display (a value-level event then waits for value only).
    public var displayed: Bool
}
