/// Client → server: the first frame of every connection (EA-HS-1).
public struct Hello: Hashable, Sendable {
    /// The versions the client speaks, in any order; at least one.
    public var versions: [ProtocolVersion]
    /// Who the client is, for logs and reports.
    public var client: ClientInfo
    /// The most events the client wants outstanding at once; the server may lower it.
    public var window: UInt64?
    /// Present when the client resumes an earlier session.
    public var resume: ResumeRequest?

    /// Creates a `hello`.
    public init(
        versions: [ProtocolVersion] = [.current],
        client: ClientInfo,
        window: UInt64? = nil,
        resume: ResumeRequest? = nil
    ) {
        self.versions = versions
        self.client = client
        self.window = window
        self.resume = resume
    }
}

/// The name and version of a client implementation.
public struct ClientInfo: Hashable, Sendable, Codable {
    /// The implementation's name, for example `"eventack-swift"`.
    public var name: String
    /// The implementation's version, for example `"1.0.0"`.
    public var version: String

    /// Creates client information.
    public init(name: String, version: String) {
        self.name = name
        self.version = version
    }
}

/// What a client sends to resume a session after reconnecting (EA-RES-1).
public struct ResumeRequest: Hashable, Sendable {
    /// The session id from the earlier `welcome`.
    public var session: String
    /// The latest resume token the server issued; a secret.
    public var token: String
    /// Every seq the client already holds, so the server replays only the rest.
    public var receipt: AckSet

    /// Creates a resume request.
    public init(session: String, token: String, receipt: AckSet) {
        self.session = session
        self.token = token
        self.receipt = receipt
    }
}

/// Server → client: the session is open (EA-HS-2). No event precedes it.
public struct Welcome: Hashable, Sendable {
    /// The negotiated version.
    public var version: ProtocolVersion
    /// The session id.
    public var session: String
    /// A fresh secret resume token; earlier tokens of the session stop working.
    public var token: String
    /// Whether an earlier session was resumed (its seqs continue) or a new one started at seq 1.
    public var resumed: Bool
    /// How often the server pings; a peer silent for twice this long is dead.
    public var heartbeatMs: UInt64
    /// How long the client may delay a receipt ack to coalesce it with others.
    public var ackDelayMs: UInt64
    /// The most events outstanding (sent, not receipt-acked) at once.
    public var window: UInt64
    /// The largest frame the server accepts, in bytes.
    public var maxFrameBytes: UInt64

    /// Creates a `welcome`.
    public init(
        version: ProtocolVersion = .current,
        session: String,
        token: String,
        resumed: Bool,
        heartbeatMs: UInt64 = 15_000,
        ackDelayMs: UInt64 = 20,
        window: UInt64 = 256,
        maxFrameBytes: UInt64 = UInt64(ProtocolLimits.defaultMaxFrameBytes)
    ) {
        self.version = version
        self.session = session
        self.token = token
        self.resumed = resumed
        self.heartbeatMs = heartbeatMs
        self.ackDelayMs = ackDelayMs
        self.window = window
        self.maxFrameBytes = maxFrameBytes
    }
}
