import EventAckProtocol

/// Why an event failed at a level: a deadline, the session's expiry, or the reason of the client's `nack`.
public struct FailureReason: RawRepresentable, Hashable, Sendable, Codable, CustomStringConvertible,
    ExpressibleByStringLiteral
{
    /// The reason code, for example `"receipt_timeout"` or `"render_failed"`.
    public let rawValue: String

    /// Wraps a reason code.
    public init(rawValue: String) { self.rawValue = rawValue }

    public init(stringLiteral value: String) { self.rawValue = value }

    /// The reason of a client's `nack`.
    public init(_ nack: NackReason) { self.rawValue = nack.rawValue }

    public var description: String { rawValue }

    /// No receipt ack after the last retransmission (EA-RTX-1).
    public static let receiptTimeout: FailureReason = "receipt_timeout"
    /// Not displayed within the display deadline (§ 8).
    public static let displayTimeout: FailureReason = "display_timeout"
    /// No value confirmation within the value deadline (§ 8).
    public static let valueTimeout: FailureReason = "value_timeout"
    /// The session was not resumed within the resume window (EA-RES-5).
    public static let sessionExpired: FailureReason = "session_expired"
    /// The reconciler shut down before the event was confirmed.
    public static let shutdown: FailureReason = "shutdown"

    /// The deadline failure of a level.
    static func timeout(_ level: ConfirmationLevel) -> FailureReason {
        switch level {
        case .receipt: .receiptTimeout
        case .display: .displayTimeout
        case .value: .valueTimeout
        }
    }
}
