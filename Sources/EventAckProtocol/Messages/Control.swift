/// Server → client: a run is alive though it sends no event (an agent still thinking) (EA-LIVE-1).
public struct Progress: Hashable, Sendable {
    /// The run that is alive.
    public var run: String
    /// When the server sent it, Unix milliseconds.
    public var ts: UInt64
    /// What the run is doing, for humans.
    public var note: String?

    /// Creates a `progress`.
    public init(run: String, ts: UInt64, note: String? = nil) {
        self.run = run
        self.ts = ts
        self.note = note
    }
}

/// Either way: an error with a stable code (EA-ERR-1). A fatal error is followed by closing the connection.
public struct ErrorMessage: Hashable, Sendable {
    /// The stable code.
    public var code: ErrorCode
    /// What went wrong, for humans.
    public var message: String
    /// Whether the sender closes the connection after this message.
    public var fatal: Bool
    /// The seq concerned, if any.
    public var seq: Seq?

    /// Creates an error message.
    public init(code: ErrorCode, message: String, fatal: Bool, seq: Seq? = nil) {
        self.code = code
        self.message = message
        self.fatal = fatal
        self.seq = seq
    }

    /// The wire form of a local error.
    public init(_ error: EventAckError, fatal: Bool) {
        let message = error.path.map { "\(error.message) (at \($0))" } ?? error.message
        self.init(code: error.code, message: message, fatal: fatal, seq: error.seq)
    }
}
