/// One protocol message: a single JSON object per frame, discriminated by its `"type"` field (EA-MSG-1).
public enum Message: Hashable, Sendable {
    /// Client → server: opens or resumes a session.
    case hello(Hello)
    /// Server → client: accepts the session.
    case welcome(Welcome)
    /// Server → client: one sequenced event.
    case event(Event)
    /// Client → server: confirmations per level.
    case ack(Ack)
    /// Client → server: a failure at a level, never silent.
    case nack(Nack)
    /// Server → client: the confirmations the server has recorded.
    case synced(Synced)
    /// Server → client: unsequenced liveness for a long run.
    case progress(Progress)
    /// Either way: a keep-alive probe.
    case ping(id: UInt64)
    /// Either way: the answer to a ``ping(id:)`` with the same id.
    case pong(id: UInt64)
    /// Either way: a protocol error with a stable code.
    case error(ErrorMessage)
    /// Either way: a clean goodbye before closing.
    case bye(reason: String?)

    /// The message's wire `type`.
    public var type: MessageType {
        switch self {
        case .hello: .hello
        case .welcome: .welcome
        case .event: .event
        case .ack: .ack
        case .nack: .nack
        case .synced: .synced
        case .progress: .progress
        case .ping: .ping
        case .pong: .pong
        case .error: .error
        case .bye: .bye
        }
    }
}

/// The wire names of the message types of version 1.0.
public enum MessageType: String, Sendable, Hashable, CaseIterable, Codable {
    case hello, welcome, event, ack, nack, synced, progress, ping, pong, error, bye
}
