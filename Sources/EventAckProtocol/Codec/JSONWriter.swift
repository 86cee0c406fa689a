/// Writes compact, deterministic JSON into a byte buffer: members in a fixed order, no whitespace, minimal string
/// escapes (`"`, `\` and control characters only). `package`: the reconciler writes its store records with it.
package struct JSONWriter {
    package private(set) var bytes: [UInt8]

    package init(capacity: Int) {
        bytes = []
        bytes.reserveCapacity(capacity)
    }

    /// Opens an object and writes its `"type"` member.
    package mutating func beginMessage(_ type: StaticString) {
        append("{\"type\":\"")
        append(type)
        bytes.append(UInt8(ascii: "\""))
    }

    package mutating func beginObject() { bytes.append(UInt8(ascii: "{")) }
    package mutating func endObject() { bytes.append(UInt8(ascii: "}")) }
    package mutating func beginArray() { bytes.append(UInt8(ascii: "[")) }
    package mutating func endArray() { bytes.append(UInt8(ascii: "]")) }
    package mutating func comma() { bytes.append(UInt8(ascii: ",")) }

    /// Writes `,"name":` (or `"name":` for the first member of an object).
    package mutating func key(_ name: StaticString, first: Bool = false) {
        if !first { bytes.append(UInt8(ascii: ",")) }
        bytes.append(UInt8(ascii: "\""))
        append(name)
        append("\":")
    }

    package mutating func string(_ value: String) {
        bytes.append(UInt8(ascii: "\""))
        var value = value
        value.withUTF8 { utf8 in
            var runStart = 0
            var index = 0
            while index < utf8.count {
                // Eight bytes at a time while none needs an escape: most of a payload or an id.
                if index + 8 <= utf8.count, !JSONText.needsAttention(JSONText.load8(utf8, at: index)) {
                    index += 8
                    continue
                }
                let byte = utf8[index]
                if byte < 0x20 || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") {
                    bytes.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[runStart..<index]))
                    appendEscape(byte)
                    runStart = index + 1
                }
                index += 1
            }
            bytes.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[runStart...]))
        }
        bytes.append(UInt8(ascii: "\""))
    }

    package mutating func integer(_ value: UInt64) {
        if value < 10 {
            bytes.append(UInt8(ascii: "0") + UInt8(value))
            return
        }
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 20) { digits in
            var remaining = value
            var position = 20
            while remaining > 0 {
                position -= 1
                digits[position] = UInt8(ascii: "0") + UInt8(remaining % 10)
                remaining /= 10
            }
            bytes.append(contentsOf: UnsafeBufferPointer(rebasing: digits[position..<20]))
        }
    }

    /// Writes a finite double: integral values within the JSON-safe range without a fraction, others in Swift's
    /// shortest round-tripping form (which is valid JSON for finite values).
    package mutating func double(_ value: Double) {
        if value == value.rounded(), abs(value) <= Double(ProtocolLimits.maxInteger) {
            if value < 0 { bytes.append(UInt8(ascii: "-")) }
            integer(UInt64(abs(value)))
        } else {
            bytes.append(contentsOf: value.description.utf8)
        }
    }

    /// Writes ranges as `[[low,high],…]`, the spelling of ack sets' `ranges`.
    package mutating func ranges(_ ranges: [ClosedRange<UInt64>]) {
        beginArray()
        for (index, range) in ranges.enumerated() {
            if index > 0 { comma() }
            beginArray()
            integer(range.lowerBound)
            comma()
            integer(range.upperBound)
            endArray()
        }
        endArray()
    }

    package mutating func bool(_ value: Bool) {
        append(value ? "true" : "false")
    }

    /// Appends text that is already compact JSON (a payload).
    package mutating func raw(_ json: String) {
        var json = json
        json.withUTF8 { bytes.append(contentsOf: $0) }
    }

    /// Appends bytes that are already compact JSON.
    package mutating func raw(bytes json: some Collection<UInt8>) {
        bytes.append(contentsOf: json)
    }

    /// `value` as a JSON string literal, with the writer's escapes.
    package static func quoted(_ value: String) -> String {
        var writer = JSONWriter(capacity: value.utf8.count + 2)
        writer.string(value)
        return String(decoding: writer.bytes, as: UTF8.self)
    }

    package mutating func append(_ text: StaticString) {
        text.withUTF8Buffer { bytes.append(contentsOf: $0) }
    }

    private mutating func appendEscape(_ byte: UInt8) {
        bytes.append(UInt8(ascii: "\\"))
        switch byte {
        case UInt8(ascii: "\""), UInt8(ascii: "\\"): bytes.append(byte)
        case 0x08: bytes.append(UInt8(ascii: "b"))
        case 0x0C: bytes.append(UInt8(ascii: "f"))
        case 0x0A: bytes.append(UInt8(ascii: "n"))
        case 0x0D: bytes.append(UInt8(ascii: "r"))
        case 0x09: bytes.append(UInt8(ascii: "t"))
        default:
            let hex: StaticString = "0123456789abcdef"
            append("u00")
            hex.withUTF8Buffer { digits in
                bytes.append(digits[Int(byte >> 4)])
                bytes.append(digits[Int(byte & 0x0F)])
            }
        }
    }
}
