/// Decodes frames into ``Message`` values with strict validation and encodes messages to compact, deterministic
/// JSON.
///
/// The codec is purpose-built for the protocol's envelope: it validates the whole frame in one pass without
/// building intermediate values, reads members by byte comparison, and keeps an event's payload as JSON text. It
/// never crashes or hangs on any input; every failure is an ``EventAckError`` with the spec's code and the JSON
/// path of the field at fault.
///
/// ```swift
/// let codec = MessageCodec()
/// let message = try codec.decode(#"{"type":"ping","id":7}"#)
/// let text = codec.encode(.pong(id: 7))   // {"type":"pong","id":7}
/// ```
public struct MessageCodec: Sendable {
    /// Frames longer than this many UTF-8 bytes are refused with ``ErrorCode/frameTooLarge``.
    public var maxFrameBytes: Int

    /// Creates a codec.
    public init(maxFrameBytes: Int = ProtocolLimits.defaultMaxFrameBytes) {
        self.maxFrameBytes = maxFrameBytes
    }

    /// Decodes one text frame.
    public func decode(_ text: String) throws(EventAckError) -> Message {
        var text = text
        let limit = maxFrameBytes
        return try text.withUTF8Bytes { bytes throws(EventAckError) in
            guard bytes.count <= limit else { throw Self.tooLarge(bytes.count, limit) }
            return try MessageDecoder.decode(bytes)
        }
    }

    /// Decodes one frame given as bytes, which must be UTF-8.
    public func decode(bytes: some Collection<UInt8>) throws(EventAckError) -> Message {
        guard bytes.count <= maxFrameBytes else { throw Self.tooLarge(bytes.count, maxFrameBytes) }
        guard let text = String(validating: bytes, as: UTF8.self) else {
            throw EventAckError(code: .malformedJSON, message: "the frame is not valid UTF-8", path: "$")
        }
        return try decode(text)
    }

    /// Encodes a message as one compact JSON text frame.
    public func encode(_ message: Message) -> String {
        var writer = JSONWriter(capacity: Self.capacityHint(message))
        MessageEncoder.encode(message, into: &writer)
        return writer.text
    }

    private static func capacityHint(_ message: Message) -> Int {
        if case .event(let event) = message { return event.payload.json.utf8.count + 160 }
        return 128
    }

    private static func tooLarge(_ count: Int, _ limit: Int) -> EventAckError {
        EventAckError(code: .frameTooLarge, message: "frame of \(count) bytes exceeds the limit of \(limit)", path: "$")
    }
}
