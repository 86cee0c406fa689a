import EventAckProtocol

/// How a client behaves. Every duration is in milliseconds.
///
/// Values out of range are brought into range in one place, ``normalized()``, which the machine applies when it is
/// created: whether a value was set through `init` or assigned afterwards, a zero resend interval cannot make the
/// client spin, nor a zero batch size make it ack nothing.
public struct ClientConfiguration: Sendable, Hashable {
    /// Who the client is, sent in `hello`.
    public var client: ClientInfo
    /// The versions offered in `hello`.
    public var versions: [ProtocolVersion]
    /// The window asked for in `hello`; `nil` lets the server choose.
    public var window: UInt64?
    /// Send a receipt ack as soon as this many new events arrived, without waiting for the ack delay (EA-DEL-3).
    public var ackBatchSize: Int
    /// Send the receipt ack as soon as every frame that had arrived is processed (the inbound burst is drained),
    /// instead of waiting for the ack delay (EA-DEL-3). Under load frames arrive in bursts and one ack covers each;
    /// when events come one at a time the client is idle and an ack each costs little. On by default; off, acks
    /// wait for the delay or the batch size only.
    public var acksWhenDrained: Bool
    /// The most out-of-order events held while waiting for a hole to fill; later ones are not acknowledged and
    /// therefore retransmitted by the server (EA-DEL-2).
    public var reorderBufferLimit: Int
    /// A run with no event and no `progress` for this long is reported stalled (EA-LIVE-2).
    public var runIdleTimeoutMs: UInt64
    /// Event kinds that end a run when the server speaks protocol 1.0. From 1.1 on the server marks a run's last
    /// event (`endsRun`, EA-EVT-7) and this set is not consulted, so the client works with any run profile.
    public var terminalKinds: Set<String>
    /// Confirmations and nacks not echoed by a `synced` this long after they were sent are sent again
    /// (EA-SYNC-4): an ack lost on the way would otherwise wait for the next event or reconnect.
    public var confirmationResendMs: UInt64
    /// A connection whose `welcome` has not arrived this long after `hello` is closed and retried (EA-HS-4).
    public var handshakeTimeoutMs: UInt64
    /// How long ``ClientStateMachine/close(now:timeoutMs:)`` waits for the server's `synced` to cover every
    /// confirmation before it says `bye` anyway (EA-BYE-2).
    public var closeTimeoutMs: UInt64
    /// The most bytes of received frames that may wait for the client to process them (``InboundFrames``): a server
    /// that sends faster than that is cut, and the client reconnects and resumes. At least 2 MiB (above the largest
    /// frame), 128 MiB by default.
    public var maxPendingInboundBytes: Int

    /// Creates a configuration; the defaults suit an interactive agent UI.
    public init(
        client: ClientInfo = ClientInfo(name: "eventack-swift", version: "1.0.0"),
        versions: [ProtocolVersion] = [.current],
        window: UInt64? = nil,
        ackBatchSize: Int = 32,
        acksWhenDrained: Bool = true,
        reorderBufferLimit: Int = 1024,
        runIdleTimeoutMs: UInt64 = 60_000,
        terminalKinds: Set<String> = ["agent_completed", "agent_failed"],
        confirmationResendMs: UInt64 = 3_000,
        handshakeTimeoutMs: UInt64 = 10_000,
        closeTimeoutMs: UInt64 = 5_000,
        maxPendingInboundBytes: Int = 128 << 20
    ) {
        self.client = client
        self.versions = versions
        self.window = window
        self.ackBatchSize = ackBatchSize
        self.acksWhenDrained = acksWhenDrained
        self.reorderBufferLimit = reorderBufferLimit
        self.runIdleTimeoutMs = runIdleTimeoutMs
        self.terminalKinds = terminalKinds
        self.confirmationResendMs = confirmationResendMs
        self.handshakeTimeoutMs = handshakeTimeoutMs
        self.closeTimeoutMs = closeTimeoutMs
        self.maxPendingInboundBytes = maxPendingInboundBytes
        self = normalized()
    }

    /// The one place where values are brought into range: batch size 1…4096, reorder buffer 1…65,536 events,
    /// timeouts and intervals at least 1 ms and at most a day, window 1…2^53 − 1, at least one version offered, and
    /// at least 2 MiB of inbound frames waiting.
    public func normalized() -> ClientConfiguration {
        let day: UInt64 = 86_400_000
        var copy = self
        copy.ackBatchSize = min(max(1, ackBatchSize), 4096)
        copy.reorderBufferLimit = min(max(1, reorderBufferLimit), 65_536)
        copy.runIdleTimeoutMs = min(max(1, runIdleTimeoutMs), day)
        copy.confirmationResendMs = min(max(1, confirmationResendMs), day)
        copy.handshakeTimeoutMs = min(max(1, handshakeTimeoutMs), day)
        copy.closeTimeoutMs = min(closeTimeoutMs, day)
        copy.window = window.map { min(max(1, $0), ProtocolLimits.maxSeq) }
        if copy.versions.isEmpty { copy.versions = [.current] }
        copy.maxPendingInboundBytes = max(maxPendingInboundBytes, 2 << 20)
        return copy
    }
}
