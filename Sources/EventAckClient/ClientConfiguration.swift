import EventAckProtocol

/// How a client behaves. Every duration is in milliseconds.
public struct ClientConfiguration: Sendable, Hashable {
    /// Who the client is, sent in `hello`.
    public var client: ClientInfo
    /// The versions offered in `hello`.
    public var versions: [ProtocolVersion]
    /// The window asked for in `hello`; `nil` lets the server choose.
    public var window: UInt64?
    /// Send a receipt ack as soon as this many new events arrived, without waiting for the ack delay (EA-DEL-3).
    public var ackBatchSize: Int
    /// The most out-of-order events held while waiting for a hole to fill; later ones are not acknowledged and
    /// therefore retransmitted by the server (EA-DEL-2).
    public var reorderBufferLimit: Int
    /// A run with no event and no `progress` for this long is reported stalled (EA-LIVE-2).
    public var runIdleTimeoutMs: UInt64
    /// Event kinds that end a run.
    public var terminalKinds: Set<String>
    /// Confirmations and nacks not echoed by a `synced` this long after they were sent are sent again
    /// (EA-SYNC-4): an ack lost on the way would otherwise wait for the next event or reconnect.
    public var confirmationResendMs: UInt64
    /// A connection whose `welcome` has not arrived this long after `hello` is closed and retried (EA-HS-4).
    public var handshakeTimeoutMs: UInt64

    /// Creates a configuration; the defaults suit an interactive agent UI.
    public init(
        client: ClientInfo = ClientInfo(name: "eventack-swift", version: "1.0.0"),
        versions: [ProtocolVersion] = [.current],
        window: UInt64? = nil,
        ackBatchSize: Int = 32,
        reorderBufferLimit: Int = 1024,
        runIdleTimeoutMs: UInt64 = 60_000,
        terminalKinds: Set<String> = ["agent_completed", "agent_failed"],
        confirmationResendMs: UInt64 = 3_000,
        handshakeTimeoutMs: UInt64 = 10_000
    ) {
        self.client = client
        self.versions = versions
        self.window = window
        self.ackBatchSize = max(1, ackBatchSize)
        self.reorderBufferLimit = max(1, reorderBufferLimit)
        self.runIdleTimeoutMs = runIdleTimeoutMs
        self.terminalKinds = terminalKinds
        self.confirmationResendMs = max(1, confirmationResendMs)
        self.handshakeTimeoutMs = max(1, handshakeTimeoutMs)
    }
}
