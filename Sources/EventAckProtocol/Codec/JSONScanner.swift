/// The kind of a scanned JSON value.
enum JSONKind: UInt8 {
    case object, array, string, number, bool, null
}

/// Where a validated JSON value lies in the frame, with what the decoder needs to know about it without looking
/// again.
struct JSONSpan {
    var start: Int
    var end: Int
    var kind: JSONKind
    /// Strings: the text contains a backslash escape, so it must be unescaped.
    var hasEscape = false
    /// Numbers: no fraction and no exponent.
    var isInteger = false
    /// Objects and arrays: insignificant whitespace occurs inside, so a compact copy must be made.
    var hasWhitespace = false
}

/// One member of an object: the key's span (between the quotes) and the value's span.
struct JSONField {
    var keyStart: Int
    var keyEnd: Int
    var keyHasEscape: Bool
    var value: JSONSpan
    /// The key's length and first 8 bytes packed together: most lookups are decided by one integer comparison.
    var keyTag: UInt64 = 0
}

/// A syntax error found by the scanner: cheap to throw, turned into an ``EventAckError`` with a path by its caller.
struct JSONSyntaxError: Error {
    var offset: Int
    var reason: String
    /// Nesting too deep is a limit, not a syntax error: it maps to `invalid_message`.
    var isDepthLimit = false
}

/// A strict, allocation-free validator of RFC 8259 JSON over UTF-8 bytes that records spans instead of building
/// values. The input must already be valid UTF-8 (it comes from a Swift `String` or was validated as one).
///
/// Recursion is bounded by ``ProtocolLimits/maxNestingDepth``, so no input can exhaust the stack; every loop
/// advances, so no input can hang it.
struct JSONScanner {
    let bytes: UnsafeBufferPointer<UInt8>
    var index = 0
    private var sawWhitespace = false

    init(_ bytes: UnsafeBufferPointer<UInt8>) {
        self.bytes = bytes
    }

    /// Scans one complete document (a value with optional surrounding whitespace).
    mutating func scanDocument(path: JSONPath) throws(EventAckError) -> JSONSpan {
        do throws(JSONSyntaxError) {
            skipWhitespace()
            sawWhitespace = false
            var span = try scanValue(depth: 0)
            span.hasWhitespace = sawWhitespace
            skipWhitespace()
            guard index == bytes.count else { throw JSONSyntaxError(offset: index, reason: "unexpected trailing data") }
            return span
        } catch {
            throw error.eventAckError(path: path.description)
        }
    }

    /// Scans a complete document that must be an object and returns its members. Errors inside a member's value
    /// carry that member's path.
    mutating func scanObjectDocument(path: JSONPath) throws(EventAckError) -> [JSONField] {
        var fields: [JSONField] = []
        fields.reserveCapacity(10)
        var currentKey: JSONField?
        do {
            skipWhitespace()
            guard index < bytes.count, bytes[index] == UInt8(ascii: "{") else {
                if index < bytes.count, let _ = try? scanValue(depth: 0) {
                    skipWhitespace()
                    if index == bytes.count {
                        throw EventAckError(
                            code: .invalidMessage, message: "a frame must be a JSON object", path: path.description)
                    }
                }
                throw JSONSyntaxError(offset: index, reason: "expected a JSON object")
            }
            index += 1
            skipWhitespace()
            if try consume(UInt8(ascii: "}")) == false {
                while true {
                    let keyStart = index + 1
                    let key = try scanString()
                    currentKey = JSONField(
                        keyStart: keyStart, keyEnd: key.end - 1, keyHasEscape: key.hasEscape,
                        value: key)
                    skipWhitespace()
                    try expect(UInt8(ascii: ":"))
                    skipWhitespace()
                    sawWhitespace = false
                    var value = try scanValue(depth: 1)
                    value.hasWhitespace = sawWhitespace
                    let keyEnd = key.end - 1
                    let tag = JSONText.keyTag(UnsafeBufferPointer(rebasing: bytes[keyStart..<keyEnd]))
                    fields.append(
                        JSONField(
                            keyStart: keyStart, keyEnd: keyEnd, keyHasEscape: key.hasEscape,
                            value: value, keyTag: tag))
                    currentKey = nil
                    skipWhitespace()
                    if try consume(UInt8(ascii: "}")) { break }
                    try expect(UInt8(ascii: ","))
                    skipWhitespace()
                }
            }
            skipWhitespace()
            guard index == bytes.count else { throw JSONSyntaxError(offset: index, reason: "unexpected trailing data") }
            return fields
        } catch let error as EventAckError {
            throw error
        } catch let error as JSONSyntaxError {
            let memberPath = currentKey.map { "\(path).\(JSONText.keyName($0, in: bytes))" } ?? path.description
            throw error.eventAckError(path: memberPath)
        } catch {
            throw EventAckError(code: .internal, message: "unexpected scanner error", path: path.description)
        }
    }

    /// Scans any value starting at `index` (which must not be whitespace).
    mutating func scanValue(depth: Int) throws(JSONSyntaxError) -> JSONSpan {
        guard index < bytes.count else { throw JSONSyntaxError(offset: index, reason: "unexpected end of input") }
        switch bytes[index] {
        case UInt8(ascii: "{"): return try scanObject(depth: depth + 1)
        case UInt8(ascii: "["): return try scanArray(depth: depth + 1)
        case UInt8(ascii: "\""): return try scanString()
        case UInt8(ascii: "t"): return try scanLiteral("true", kind: .bool)
        case UInt8(ascii: "f"): return try scanLiteral("false", kind: .bool)
        case UInt8(ascii: "n"): return try scanLiteral("null", kind: .null)
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return try scanNumber()
        default: throw JSONSyntaxError(offset: index, reason: "unexpected character")
        }
    }

    private mutating func scanObject(depth: Int) throws(JSONSyntaxError) -> JSONSpan {
        try checkDepth(depth)
        let start = index
        index += 1
        skipWhitespace()
        if try !consume(UInt8(ascii: "}")) {
            while true {
                _ = try scanString()
                skipWhitespace()
                try expect(UInt8(ascii: ":"))
                skipWhitespace()
                _ = try scanValue(depth: depth)
                skipWhitespace()
                if try consume(UInt8(ascii: "}")) { break }
                try expect(UInt8(ascii: ","))
                skipWhitespace()
            }
        }
        return JSONSpan(start: start, end: index, kind: .object)
    }

    private mutating func scanArray(depth: Int) throws(JSONSyntaxError) -> JSONSpan {
        try checkDepth(depth)
        let start = index
        index += 1
        skipWhitespace()
        if try !consume(UInt8(ascii: "]")) {
            while true {
                _ = try scanValue(depth: depth)
                skipWhitespace()
                if try consume(UInt8(ascii: "]")) { break }
                try expect(UInt8(ascii: ","))
                skipWhitespace()
            }
        }
        return JSONSpan(start: start, end: index, kind: .array)
    }

    /// Scans a string starting at its opening quote; the span includes both quotes.
    mutating func scanString() throws(JSONSyntaxError) -> JSONSpan {
        guard index < bytes.count, bytes[index] == UInt8(ascii: "\"") else {
            throw JSONSyntaxError(offset: index, reason: "expected a string")
        }
        let start = index
        index += 1
        var hasEscape = false
        while index < bytes.count {
            // Skip 8 plain bytes at a time: no quote, backslash or control character among them.
            while index + 8 <= bytes.count, !JSONText.needsAttention(JSONText.load8(bytes, at: index)) { index += 8 }
            guard index < bytes.count else { break }
            let byte = bytes[index]
            if byte == UInt8(ascii: "\"") {
                index += 1
                return JSONSpan(start: start, end: index, kind: .string, hasEscape: hasEscape)
            }
            if byte < 0x20 { throw JSONSyntaxError(offset: index, reason: "unescaped control character in string") }
            if byte == UInt8(ascii: "\\") {
                hasEscape = true
                try scanEscape()
            } else {
                index += 1
            }
        }
        throw JSONSyntaxError(offset: index, reason: "unterminated string")
    }

    /// Validates one escape sequence at `index` (the backslash), including surrogate pairing of `\u` escapes.
    private mutating func scanEscape() throws(JSONSyntaxError) {
        guard index + 1 < bytes.count else { throw JSONSyntaxError(offset: index, reason: "unterminated escape") }
        switch bytes[index + 1] {
        case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"), UInt8(ascii: "b"), UInt8(ascii: "f"),
            UInt8(ascii: "n"), UInt8(ascii: "r"), UInt8(ascii: "t"):
            index += 2
        case UInt8(ascii: "u"):
            let unit = try hexUnit(at: index + 2)
            index += 6
            if (0xDC00...0xDFFF).contains(unit) {
                throw JSONSyntaxError(offset: index - 6, reason: "unpaired low surrogate escape")
            }
            if (0xD800...0xDBFF).contains(unit) {
                guard index + 1 < bytes.count, bytes[index] == UInt8(ascii: "\\"),
                    bytes[index + 1] == UInt8(ascii: "u"),
                    (0xDC00...0xDFFF).contains(try hexUnit(at: index + 2))
                else { throw JSONSyntaxError(offset: index - 6, reason: "unpaired high surrogate escape") }
                index += 6
            }
        default:
            throw JSONSyntaxError(offset: index, reason: "invalid escape")
        }
    }

    private func hexUnit(at position: Int) throws(JSONSyntaxError) -> UInt16 {
        guard position + 4 <= bytes.count else { throw JSONSyntaxError(offset: position, reason: "short \\u escape") }
        var unit: UInt16 = 0
        for offset in 0..<4 {
            guard let digit = JSONText.hexValue(bytes[position + offset]) else {
                throw JSONSyntaxError(offset: position + offset, reason: "invalid hex digit in \\u escape")
            }
            unit = unit << 4 | UInt16(digit)
        }
        return unit
    }

    private mutating func scanNumber() throws(JSONSyntaxError) -> JSONSpan {
        let start = index
        if bytes[index] == UInt8(ascii: "-") { index += 1 }
        guard index < bytes.count, JSONText.isDigit(bytes[index]) else {
            throw JSONSyntaxError(offset: index, reason: "expected a digit")
        }
        if bytes[index] == UInt8(ascii: "0") {
            index += 1
            if index < bytes.count, JSONText.isDigit(bytes[index]) {
                throw JSONSyntaxError(offset: index, reason: "leading zero in number")
            }
        } else {
            skipDigits()
        }
        var isInteger = true
        if index < bytes.count, bytes[index] == UInt8(ascii: ".") {
            isInteger = false
            index += 1
            try requireDigits()
        }
        if index < bytes.count, bytes[index] == UInt8(ascii: "e") || bytes[index] == UInt8(ascii: "E") {
            isInteger = false
            index += 1
            if index < bytes.count, bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-") {
                index += 1
            }
            try requireDigits()
        }
        return JSONSpan(start: start, end: index, kind: .number, isInteger: isInteger)
    }

    private mutating func requireDigits() throws(JSONSyntaxError) {
        guard index < bytes.count, JSONText.isDigit(bytes[index]) else {
            throw JSONSyntaxError(offset: index, reason: "expected a digit")
        }
        skipDigits()
    }

    private mutating func skipDigits() {
        while index < bytes.count, JSONText.isDigit(bytes[index]) { index += 1 }
    }

    private mutating func scanLiteral(_ literal: StaticString, kind: JSONKind) throws(JSONSyntaxError) -> JSONSpan {
        let start = index
        let count = literal.utf8CodeUnitCount
        guard index + count <= bytes.count else { throw JSONSyntaxError(offset: index, reason: "invalid literal") }
        let matches = literal.withUTF8Buffer { expected in
            (0..<count).allSatisfy { bytes[start + $0] == expected[$0] }
        }
        guard matches else { throw JSONSyntaxError(offset: index, reason: "invalid literal") }
        index += count
        return JSONSpan(start: start, end: index, kind: kind)
    }

    private func checkDepth(_ depth: Int) throws(JSONSyntaxError) {
        if depth > ProtocolLimits.maxNestingDepth {
            throw JSONSyntaxError(
                offset: index,
                reason: "nested deeper than \(ProtocolLimits.maxNestingDepth) levels",
                isDepthLimit: true
            )
        }
    }

    private mutating func consume(_ byte: UInt8) throws(JSONSyntaxError) -> Bool {
        guard index < bytes.count else { throw JSONSyntaxError(offset: index, reason: "unexpected end of input") }
        if bytes[index] == byte {
            index += 1
            return true
        }
        return false
    }

    private mutating func expect(_ byte: UInt8) throws(JSONSyntaxError) {
        guard try consume(byte) else {
            throw JSONSyntaxError(offset: index, reason: "expected '\(Character(Unicode.Scalar(byte)))'")
        }
    }

    mutating func skipWhitespace() {
        let start = index
        while index < bytes.count {
            switch bytes[index] {
            case 0x20, 0x09, 0x0A, 0x0D: index += 1
            default:
                if index != start { sawWhitespace = true }
                return
            }
        }
        if index != start { sawWhitespace = true }
    }
}

extension JSONSyntaxError {
    func eventAckError(path: String) -> EventAckError {
        if isDepthLimit { return EventAckError(code: .invalidMessage, message: reason, path: path) }
        return EventAckError(code: .malformedJSON, message: "\(reason) at byte \(offset)", path: path)
    }
}
