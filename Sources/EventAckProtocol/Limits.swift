/// A per-session sequence number. Sequence numbers start at 1, are contiguous within a session and stay within
/// ``ProtocolLimits/maxSeq`` so that every JSON implementation can represent them exactly (EA-MSG-4).
public typealias Seq = UInt64

/// Fixed limits of protocol version 1.0. Every value here is also stated in `Spec/PROTOCOL.md`.
public enum ProtocolLimits {
    /// The largest sequence number, attempt count or timestamp: 2^53 − 1, the largest integer JSON carries exactly.
    public static let maxSeq: UInt64 = (1 << 53) - 1
    /// The largest integer any numeric field may hold (the same JSON-safe bound as ``maxSeq``).
    public static let maxInteger: UInt64 = maxSeq
    /// The longest identifier (`run`, `kind`, session ids, tokens, codes) in UTF-8 bytes.
    public static let maxIdentifierBytes = 256
    /// The longest free-text field (`message`, `detail`, `note`, `reason`) in UTF-8 bytes.
    public static let maxTextBytes = 4096
    /// The most ranges one ack set may carry on the wire (EA-ACK-4).
    public static let maxAckRanges = 64
    /// The most value confirmations one `ack` may carry.
    public static let maxValueConfirmations = 256
    /// The most versions a `hello` may offer.
    public static let maxOfferedVersions = 16
    /// The deepest nesting of arrays and objects a frame may contain (payload included).
    public static let maxNestingDepth = 64
    /// The default largest frame, in bytes, a peer accepts unless `welcome` says otherwise.
    public static let defaultMaxFrameBytes = 1_048_576
}
