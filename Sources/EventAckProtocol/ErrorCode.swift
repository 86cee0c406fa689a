/// A stable error code, the same string on the wire (`error.code`) and in Swift errors.
///
/// Codes are open-ended: a peer may send a code this version does not know, and it is kept as is.
public struct ErrorCode: RawRepresentable, Hashable, Sendable, Codable, CustomStringConvertible,
    ExpressibleByStringLiteral
{
    /// The code as it appears on the wire, for example `"invalid_ack"`.
    public let rawValue: String

    /// Wraps a code string.
    public init(rawValue: String) { self.rawValue = rawValue }

    /// Wraps a code literal.
    public init(stringLiteral value: String) { self.rawValue = value }

    public var description: String { rawValue }

    /// The frame is not well-formed JSON (or not UTF-8).
    public static let malformedJSON: ErrorCode = "malformed_json"
    /// The user holds too many sessions, all attached (EA-ISO-6, 1.1); fatal.
    public static let sessionLimit: ErrorCode = "session_limit"
    /// A field is missing, mistyped or out of range.
    public static let invalidMessage: ErrorCode = "invalid_message"
    /// The `type` is not one this version knows.
    public static let unknownType: ErrorCode = "unknown_type"
    /// No offered version shares a major version with the peer.
    public static let unsupportedVersion: ErrorCode = "unsupported_version"
    /// The frame exceeds the peer's frame size limit.
    public static let frameTooLarge: ErrorCode = "frame_too_large"
    /// An ack set is not in canonical form.
    public static let invalidAck: ErrorCode = "invalid_ack"
    /// An ack set carries more than ``ProtocolLimits/maxAckRanges`` ranges.
    public static let tooManyRanges: ErrorCode = "too_many_ranges"
    /// An ack or nack names a seq that was never sent to this session.
    public static let ackUnknownSeq: ErrorCode = "ack_unknown_seq"
    /// A message arrived before the handshake completed.
    public static let handshakeRequired: ErrorCode = "handshake_required"
    /// A resume was refused (unknown or expired session, wrong token, other principal).
    public static let resumeRejected: ErrorCode = "resume_rejected"
    /// More events are outstanding than the window allows, or the send queue is full.
    public static let windowExceeded: ErrorCode = "window_exceeded"
    /// The session expired before its events were confirmed.
    public static let sessionExpired: ErrorCode = "session_expired"
    /// The peer failed internally.
    public static let `internal`: ErrorCode = "internal"

    /// Every code defined by protocol version 1.1 (1.0's and `session_limit`).
    public static let allDefined: [ErrorCode] = [
        .malformedJSON, .invalidMessage, .unknownType, .unsupportedVersion, .frameTooLarge, .invalidAck,
        .tooManyRanges, .ackUnknownSeq, .handshakeRequired, .resumeRejected, .windowExceeded, .sessionExpired,
        .internal, .sessionLimit,
    ]
}
