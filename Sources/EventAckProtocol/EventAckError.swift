/// An error with a stable ``ErrorCode``, a human-readable message and, for decoding failures, the JSON path of the
/// offending field (for example `$.receipt.ranges[1]`).
public struct EventAckError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The stable code, as listed in the specification.
    public var code: ErrorCode
    /// What went wrong, for humans. Not stable: match on ``code``.
    public var message: String
    /// The JSON path of the field at fault, when the error comes from decoding a frame.
    public var path: String?
    /// The sequence number concerned, when known (a decoding failure of an `event` whose `seq` was readable).
    public var seq: Seq?

    /// Creates an error.
    public init(code: ErrorCode, message: String, path: String? = nil, seq: Seq? = nil) {
        self.code = code
        self.message = message
        self.path = path
        self.seq = seq
    }

    public var description: String {
        if let path { return "\(code) at \(path): \(message)" }
        return "\(code): \(message)"
    }
}
