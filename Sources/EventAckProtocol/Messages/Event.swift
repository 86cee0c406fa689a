/// Server → client: one event of a session, numbered by `seq` (EA-EVT-1).
public struct Event: Hashable, Sendable {
    /// The per-session sequence number, contiguous from 1.
    public var seq: Seq
    /// The run (agent run) the event belongs to.
    public var run: String
    /// What happened, for example `"tool_completed"`.
    public var kind: String
    /// When the server emitted the event, Unix milliseconds.
    public var ts: UInt64
    /// The highest level the event needs; it implies the lower ones.
    public var confirm: ConfirmationLevel
    /// 1 on the first send, incremented by every retransmission.
    public var attempt: UInt64
    /// The event's content, a JSON object.
    public var payload: Payload
    /// Whether this is the last event of its run (EA-EVT-7, protocol 1.1): the client stops the run's idle timer
    /// without knowing the run profile's vocabulary. Encoded only when `true`; absent means `false`.
    public var endsRun: Bool

    /// Creates an event.
    public init(
        seq: Seq,
        run: String,
        kind: String,
        ts: UInt64,
        confirm: ConfirmationLevel,
        attempt: UInt64 = 1,
        payload: Payload = .empty,
        endsRun: Bool = false
    ) {
        self.seq = seq
        self.run = run
        self.kind = kind
        self.ts = ts
        self.confirm = confirm
        self.attempt = attempt
        self.payload = payload
        self.endsRun = endsRun
    }

    /// The payload decoded as `type` with Foundation's `JSONDecoder`.
    public func payload<T: Decodable>(as type: T.Type) throws -> T {
        try payload.decode(as: type)
    }
}
