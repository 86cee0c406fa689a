/// Typed, validated access to the members of one JSON object, producing errors with the spec's code and the
/// member's JSON path.
struct JSONObjectReader {
    let bytes: UnsafeBufferPointer<UInt8>
    let fields: [JSONField]
    let path: JSONPath

    /// Reads the members of a nested object span (already validated by the scanner).
    init(object span: JSONSpan, in bytes: UnsafeBufferPointer<UInt8>, path: JSONPath) throws(EventAckError) {
        var scanner = JSONScanner(UnsafeBufferPointer(rebasing: bytes[span.start..<span.end]))
        let local = try scanner.scanObjectDocument(path: path)
        // Shift the member spans back to offsets in the whole frame.
        self.fields = local.map { field in
            var shifted = field
            shifted.keyStart += span.start
            shifted.keyEnd += span.start
            shifted.value.start += span.start
            shifted.value.end += span.start
            return shifted
        }
        self.bytes = bytes
        self.path = path
    }

    init(bytes: UnsafeBufferPointer<UInt8>, fields: [JSONField], path: JSONPath) {
        self.bytes = bytes
        self.fields = fields
        self.path = path
    }

    func memberPath(_ name: StaticString) -> JSONPath { path.appending(name) }

    func invalid(_ name: StaticString, _ message: String) -> EventAckError {
        EventAckError(code: .invalidMessage, message: message, path: memberPath(name).description)
    }

    /// The value of member `name`; a member that occurs twice is ambiguous and rejected.
    func optional(_ name: StaticString) throws(EventAckError) -> JSONSpan? {
        var found: JSONSpan?
        let nameTag = JSONText.keyTag(name)
        for field in fields where JSONText.keyEquals(field, name, nameTag: nameTag, in: bytes) {
            if found != nil { throw invalid(name, "duplicate member \"\(name)\"") }
            found = field.value
        }
        return found
    }

    func required(_ name: StaticString) throws(EventAckError) -> JSONSpan {
        guard let span = try optional(name) else { throw invalid(name, "missing required member \"\(name)\"") }
        return span
    }

    func integer(_ span: JSONSpan, _ name: StaticString, minimum: UInt64) throws(EventAckError) -> UInt64 {
        guard let value = JSONText.unsignedInteger(span, in: bytes), value >= minimum else {
            throw invalid(name, "\"\(name)\" must be an integer in \(minimum)...2^53-1")
        }
        return value
    }

    func requiredInteger(_ name: StaticString, minimum: UInt64 = 0) throws(EventAckError) -> UInt64 {
        try integer(try required(name), name, minimum: minimum)
    }

    func optionalInteger(_ name: StaticString, minimum: UInt64 = 0) throws(EventAckError) -> UInt64? {
        guard let span = try optional(name) else { return nil }
        return try integer(span, name, minimum: minimum)
    }

    func requiredSeq(_ name: StaticString = "seq") throws(EventAckError) -> Seq {
        try requiredInteger(name, minimum: 1)
    }

    func string(_ span: JSONSpan, _ name: StaticString, maxBytes: Int, allowEmpty: Bool) throws(EventAckError)
        -> String
    {
        guard span.kind == .string else { throw invalid(name, "\"\(name)\" must be a string") }
        let text = JSONText.string(span, in: bytes)
        let length = text.utf8.count
        if !allowEmpty && length == 0 { throw invalid(name, "\"\(name)\" must not be empty") }
        if length > maxBytes { throw invalid(name, "\"\(name)\" is longer than \(maxBytes) UTF-8 bytes") }
        return text
    }

    /// A non-empty string of at most 256 UTF-8 bytes (ids, tokens, run names, kinds, codes).
    func requiredIdentifier(_ name: StaticString) throws(EventAckError) -> String {
        try string(try required(name), name, maxBytes: ProtocolLimits.maxIdentifierBytes, allowEmpty: false)
    }

    func optionalIdentifier(_ name: StaticString) throws(EventAckError) -> String? {
        guard let span = try optional(name) else { return nil }
        return try string(span, name, maxBytes: ProtocolLimits.maxIdentifierBytes, allowEmpty: false)
    }

    /// Free text of at most 4096 UTF-8 bytes, possibly empty.
    func requiredText(_ name: StaticString) throws(EventAckError) -> String {
        try string(try required(name), name, maxBytes: ProtocolLimits.maxTextBytes, allowEmpty: true)
    }

    func optionalText(_ name: StaticString) throws(EventAckError) -> String? {
        guard let span = try optional(name) else { return nil }
        return try string(span, name, maxBytes: ProtocolLimits.maxTextBytes, allowEmpty: true)
    }

    func requiredBool(_ name: StaticString) throws(EventAckError) -> Bool {
        let span = try required(name)
        guard span.kind == .bool else { throw invalid(name, "\"\(name)\" must be true or false") }
        return bytes[span.start] == UInt8(ascii: "t")
    }

    func optionalBool(_ name: StaticString) throws(EventAckError) -> Bool? {
        guard let span = try optional(name) else { return nil }
        guard span.kind == .bool else { throw invalid(name, "\"\(name)\" must be true or false") }
        return bytes[span.start] == UInt8(ascii: "t")
    }

    func requiredLevel(_ name: StaticString) throws(EventAckError) -> ConfirmationLevel {
        let span = try required(name)
        guard span.kind == .string else { throw invalid(name, "\"\(name)\" must be a string") }
        // Compare bytes to avoid building a String for the common, unescaped case.
        for level in ConfirmationLevel.allCases where matches(span, level.rawValue) { return level }
        throw invalid(name, "\"\(name)\" must be \"receipt\", \"display\" or \"value\"")
    }

    func optionalDouble(_ name: StaticString) throws(EventAckError) -> Double? {
        guard let span = try optional(name) else { return nil }
        guard span.kind == .number else { throw invalid(name, "\"\(name)\" must be a number") }
        let text = String(decoding: UnsafeBufferPointer(rebasing: bytes[span.start..<span.end]), as: UTF8.self)
        guard let value = Double(text), value.isFinite else { throw invalid(name, "\"\(name)\" is out of range") }
        return value
    }

    func requiredObject(_ name: StaticString) throws(EventAckError) -> JSONObjectReader {
        let span = try required(name)
        return try object(span, name)
    }

    func optionalObject(_ name: StaticString) throws(EventAckError) -> JSONObjectReader? {
        guard let span = try optional(name) else { return nil }
        return try object(span, name)
    }

    func object(_ span: JSONSpan, _ name: StaticString) throws(EventAckError) -> JSONObjectReader {
        guard span.kind == .object else { throw invalid(name, "\"\(name)\" must be an object") }
        return try JSONObjectReader(object: span, in: bytes, path: memberPath(name))
    }

    /// Whether a string span's raw content equals `text` (unescaped spans compare as text).
    func matches(_ span: JSONSpan, _ text: String) -> Bool {
        if span.hasEscape { return JSONText.string(span, in: bytes) == text }
        let length = span.end - span.start - 2
        guard length == text.utf8.count else { return false }
        var offset = span.start + 1
        for byte in text.utf8 {
            if bytes[offset] != byte { return false }
            offset += 1
        }
        return true
    }
}

/// The elements of one JSON array.
enum JSONArrayReader {
    static func elements(
        _ span: JSONSpan,
        in bytes: UnsafeBufferPointer<UInt8>,
        limit: Int,
        path: JSONPath,
        limitError: ErrorCode = .invalidMessage
    ) throws(EventAckError) -> [JSONSpan] {
        guard span.kind == .array else {
            throw EventAckError(code: .invalidMessage, message: "must be an array", path: path.description)
        }
        var scanner = JSONScanner(bytes)
        scanner.index = span.start + 1
        var elements: [JSONSpan] = []
        do {
            scanner.skipWhitespace()
            if bytes[scanner.index] == UInt8(ascii: "]") { return [] }
            while true {
                if elements.count == limit {
                    throw EventAckError(
                        code: limitError, message: "more than \(limit) elements", path: path.description)
                }
                elements.append(try scanner.scanValue(depth: 1))
                scanner.skipWhitespace()
                if bytes[scanner.index] == UInt8(ascii: "]") { return elements }
                scanner.index += 1  // the comma, validated by the scanner before
                scanner.skipWhitespace()
            }
        } catch let error as EventAckError {
            throw error
        } catch {
            // Unreachable: the span was validated when the frame was scanned.
            throw EventAckError(code: .internal, message: "array rescan failed", path: path.description)
        }
    }
}
