/// JSON values read from and written back to text, and compared as JSON values: what an HTTP API that takes
/// arbitrary objects (the publish API's events) needs beside the protocol's own codec.
extension JSONValue {
    /// Parses `text`, which must be a JSON object (nested at most ``ProtocolLimits/maxNestingDepth`` deep).
    ///
    /// - Throws: `malformed_json` when it is not JSON, `invalid_message` when it is not an object.
    public init(parsingObject text: String) throws(EventAckError) {
        self = try Payload(json: text).value()
    }

    /// The value as compact JSON text (members in their order, no whitespace).
    public var jsonText: String {
        var writer = JSONWriter(capacity: 64)
        write(to: &writer)
        return String(decoding: writer.bytes, as: UTF8.self)
    }

    private func write(to writer: inout JSONWriter) {
        switch self {
        case .null: writer.append("null")
        case .bool(let value): writer.bool(value)
        case .number(let text): writer.raw(text)
        case .string(let value): writer.string(value)
        case .array(let values):
            writer.beginArray()
            for (index, value) in values.enumerated() {
                if index > 0 { writer.comma() }
                value.write(to: &writer)
            }
            writer.endArray()
        case .object(let members):
            writer.beginObject()
            for (index, member) in members.enumerated() {
                if index > 0 { writer.comma() }
                writer.string(member.key)
                writer.append(":")
                member.value.write(to: &writer)
            }
            writer.endObject()
        }
    }

    /// Whether `self` and `other` are the same JSON value: objects compare as sets of members (order does not matter;
    /// of a repeated name the last counts), numbers by value (`1`, `1.0` and `1e0` are equal), everything else
    /// exactly. `==` compares as written instead.
    public func isSameValue(as other: JSONValue) -> Bool {
        switch (self, other) {
        case (.number(let a), .number(let b)):
            return a == b || (Double(a).map { $0 == Double(b) } ?? false)
        case (.array(let a), .array(let b)):
            return a.count == b.count && zip(a, b).allSatisfy { $0.isSameValue(as: $1) }
        case (.object(let a), .object(let b)):
            let left = Dictionary(a.map { ($0.key, $0.value) }, uniquingKeysWith: { $1 })
            let right = Dictionary(b.map { ($0.key, $0.value) }, uniquingKeysWith: { $1 })
            guard left.count == right.count else { return false }
            return left.allSatisfy { key, value in right[key].map { value.isSameValue(as: $0) } ?? false }
        default:
            return self == other
        }
    }
}
