/// Client → server: confirmations, per level (EA-ACK-1). At least one member is present. Acks are idempotent.
public struct Ack: Hashable, Sendable {
    /// Seqs the client holds.
    public var receipt: AckSet?
    /// Seqs the interface rendered (implies receipt).
    public var display: AckSet?
    /// Seqs whose value the user or app confirmed (implies display and receipt), each with optional app data.
    public var value: [ValueConfirmation]?

    /// Creates an ack.
    public init(receipt: AckSet? = nil, display: AckSet? = nil, value: [ValueConfirmation]? = nil) {
        self.receipt = receipt
        self.display = display
        self.value = value
    }
}

/// A value confirmation of one event, with what the app learned about it.
public struct ValueConfirmation: Hashable, Sendable {
    /// The confirmed event.
    public var seq: Seq
    /// How the value was obtained, for example `"copied"` or `"thumbs_up"`.
    public var signal: String?
    /// A numeric rating, if the app has one.
    public var score: Double?

    /// Creates a value confirmation.
    public init(seq: Seq, signal: String? = nil, score: Double? = nil) {
        self.seq = seq
        self.signal = signal
        self.score = score
    }
}

/// Client → server: an event failed at a level (EA-NACK-1).
public struct Nack: Hashable, Sendable {
    /// The failed event.
    public var seq: Seq
    /// The level that failed.
    public var level: ConfirmationLevel
    /// A reason code such as ``NackReason/renderFailed``.
    public var reason: NackReason
    /// Free text for humans.
    public var detail: String?

    /// Creates a nack.
    public init(seq: Seq, level: ConfirmationLevel, reason: NackReason, detail: String? = nil) {
        self.seq = seq
        self.level = level
        self.reason = reason
        self.detail = detail
    }
}

/// Why a client could not confirm an event. Open-ended: apps may use their own codes.
public struct NackReason: RawRepresentable, Hashable, Sendable, Codable, ExpressibleByStringLiteral,
    CustomStringConvertible
{
    /// The code as sent on the wire.
    public let rawValue: String

    /// Wraps a reason code.
    public init(rawValue: String) { self.rawValue = rawValue }

    /// Wraps a reason literal.
    public init(stringLiteral value: String) { self.rawValue = value }

    public var description: String { rawValue }

    /// The client could not decode the event (receipt level).
    public static let undecodable: NackReason = "undecodable"
    /// The interface failed to render the event (display level).
    public static let renderFailed: NackReason = "render_failed"
    /// The user dismissed the event without getting its value.
    public static let dismissed: NackReason = "dismissed"
    /// The user or app rejected the event's value.
    public static let rejected: NackReason = "rejected"
}

/// Server → client: the confirmations the server has durably recorded (EA-SYNC-1). Lets the client release what
/// it retained for re-sending.
public struct Synced: Hashable, Sendable {
    /// Receipts recorded.
    public var receipt: AckSet?
    /// Displays recorded.
    public var display: AckSet?
    /// Value confirmations recorded.
    public var value: AckSet?

    /// Creates a `synced`.
    public init(receipt: AckSet? = nil, display: AckSet? = nil, value: AckSet? = nil) {
        self.receipt = receipt
        self.display = display
        self.value = value
    }

    /// The recorded set of a level.
    public subscript(level: ConfirmationLevel) -> AckSet? {
        switch level {
        case .receipt: receipt
        case .display: display
        case .value: value
        }
    }
}
