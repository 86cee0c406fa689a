/// Builds a ``JSONValue`` tree from text, validating it with ``JSONScanner`` as it goes.
struct JSONValueParser {
    private var scanner: JSONScanner

    init(_ bytes: UnsafeBufferPointer<UInt8>) {
        scanner = JSONScanner(bytes)
    }

    mutating func parse() throws(EventAckError) -> JSONValue {
        let span = try scanner.scanDocument(path: .root)
        return try value(of: span)
    }

    /// The value of one top-level member of an object document, building only that value's tree.
    mutating func member(_ name: String) throws(EventAckError) -> JSONValue? {
        let fields = try scanner.scanObjectDocument(path: .root)
        guard let field = fields.first(where: { JSONText.keyName($0, in: scanner.bytes) == name }) else { return nil }
        return try value(of: field.value)
    }

    private func value(of span: JSONSpan) throws(EventAckError) -> JSONValue {
        let bytes = scanner.bytes
        switch span.kind {
        case .null: return .null
        case .bool: return .bool(bytes[span.start] == UInt8(ascii: "t"))
        case .number:
            return .number(String(decoding: UnsafeBufferPointer(rebasing: bytes[span.start..<span.end]), as: UTF8.self))
        case .string: return .string(JSONText.string(span, in: bytes))
        case .array:
            let elements = try JSONArrayReader.elements(span, in: bytes, limit: .max, path: .root)
            var values: [JSONValue] = []
            values.reserveCapacity(elements.count)
            for element in elements { values.append(try value(of: element)) }
            return .array(values)
        case .object:
            let reader = try JSONObjectReader(object: span, in: bytes, path: .root)
            var members: [(key: String, value: JSONValue)] = []
            members.reserveCapacity(reader.fields.count)
            for field in reader.fields {
                members.append((JSONText.keyName(field, in: bytes), try value(of: field.value)))
            }
            return .object(members)
        }
    }
}
