/// Byte-level helpers shared by the scanner, the readers and the writer.
enum JSONText {
    static func isDigit(_ byte: UInt8) -> Bool {
        byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")
    }

    static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        default: nil
        }
    }

    /// The text of a string span (quotes included in the span), unescaped. The span was validated by the scanner.
    static func string(_ span: JSONSpan, in bytes: UnsafeBufferPointer<UInt8>) -> String {
        content(start: span.start + 1, end: span.end - 1, hasEscape: span.hasEscape, in: bytes)
    }

    /// A member's key as text, for error paths.
    static func keyName(_ field: JSONField, in bytes: UnsafeBufferPointer<UInt8>) -> String {
        content(start: field.keyStart, end: field.keyEnd, hasEscape: field.keyHasEscape, in: bytes)
    }

    static func content(start: Int, end: Int, hasEscape: Bool, in bytes: UnsafeBufferPointer<UInt8>) -> String {
        let raw = UnsafeBufferPointer(rebasing: bytes[start..<end])
        guard hasEscape else { return String(decoding: raw, as: UTF8.self) }
        var output: [UInt8] = []
        output.reserveCapacity(raw.count)
        var index = 0
        while index < raw.count {
            let byte = raw[index]
            guard byte == UInt8(ascii: "\\") else {
                output.append(byte)
                index += 1
                continue
            }
            let escaped = raw[index + 1]
            index += 2
            switch escaped {
            case UInt8(ascii: "b"): output.append(0x08)
            case UInt8(ascii: "f"): output.append(0x0C)
            case UInt8(ascii: "n"): output.append(0x0A)
            case UInt8(ascii: "r"): output.append(0x0D)
            case UInt8(ascii: "t"): output.append(0x09)
            case UInt8(ascii: "u"):
                var scalar = UInt32(hexUnit(raw, at: index))
                index += 4
                if (0xD800...0xDBFF).contains(scalar) {
                    // The scanner guarantees a low surrogate escape follows.
                    let low = UInt32(hexUnit(raw, at: index + 2))
                    index += 6
                    scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                }
                appendUTF8(scalar, to: &output)
            default: output.append(escaped)  // " \ /
            }
        }
        return String(decoding: output, as: UTF8.self)
    }

    private static func hexUnit(_ raw: UnsafeBufferPointer<UInt8>, at position: Int) -> UInt16 {
        var unit: UInt16 = 0
        for offset in 0..<4 { unit = unit << 4 | UInt16(hexValue(raw[position + offset]) ?? 0) }
        return unit
    }

    private static func appendUTF8(_ scalar: UInt32, to output: inout [UInt8]) {
        guard let unicodeScalar = Unicode.Scalar(scalar) else { return }
        output.append(contentsOf: UTF8.encode(unicodeScalar)!)
    }

    /// Whether the key of `field` equals `name`, whose ``keyTag(_:)`` is `nameTag`. Hot: called for every member
    /// lookup, so unescaped keys of up to 7 bytes are decided by comparing tags alone.
    @inline(__always)
    static func keyEquals(
        _ field: JSONField,
        _ name: StaticString,
        nameTag: UInt64,
        in bytes: UnsafeBufferPointer<UInt8>
    ) -> Bool {
        if field.keyHasEscape { return keyName(field, in: bytes) == name.description }
        guard field.keyTag == nameTag else { return false }
        let length = name.utf8CodeUnitCount
        var offset = 7
        while offset < length {
            if bytes[field.keyStart + offset] != name.utf8Start[offset] { return false }
            offset += 1
        }
        return true
    }

    static func keyTag(_ name: StaticString) -> UInt64 {
        keyTag(UnsafeBufferPointer(start: name.utf8Start, count: name.utf8CodeUnitCount))
    }

    /// A key's length (top byte) and first 7 bytes (the rest), so that equal tags and lengths ≤ 7 mean equal keys;
    /// longer keys compare their remaining bytes. Keys here are ASCII names.
    @inline(__always)
    static func keyTag(_ key: UnsafeBufferPointer<UInt8>) -> UInt64 {
        var tag = UInt64(min(key.count, 255)) << 56
        for offset in 0..<min(key.count, 7) { tag |= UInt64(key[offset]) << (UInt64(offset) * 8) }
        return tag
    }

    /// Eight bytes from `position`, little-endian.
    @inline(__always)
    static func load8(_ bytes: UnsafeBufferPointer<UInt8>, at position: Int) -> UInt64 {
        UInt64(littleEndian: UnsafeRawPointer(bytes.baseAddress! + position).loadUnaligned(as: UInt64.self))
    }

    /// Whether any of eight packed bytes is a quote, a backslash or below 0x20 (SWAR; may report bytes ≥ 0x80
    /// too, which only sends them through the careful path).
    @inline(__always)
    static func needsAttention(_ word: UInt64) -> Bool {
        let ones: UInt64 = 0x0101_0101_0101_0101
        let highs: UInt64 = 0x8080_8080_8080_8080
        func hasZeroByte(_ value: UInt64) -> Bool { (value &- ones) & ~value & highs != 0 }
        let below0x20 = (word &- ones &* 0x20) & ~word & highs != 0
        return below0x20 || hasZeroByte(word ^ (ones &* 0x22)) || hasZeroByte(word ^ (ones &* 0x5C))
    }

    /// Parses a non-negative integer span; `nil` when it is negative, not an integer or above `maxInteger`.
    static func unsignedInteger(_ span: JSONSpan, in bytes: UnsafeBufferPointer<UInt8>) -> UInt64? {
        guard span.kind == .number, span.isInteger, bytes[span.start] != UInt8(ascii: "-") else { return nil }
        // 2^53 - 1 has 16 digits: anything longer is out of range, and 16 digits cannot overflow UInt64.
        guard span.end - span.start <= 16 else { return nil }
        var value: UInt64 = 0
        for index in span.start..<span.end { value = value * 10 + UInt64(bytes[index] - UInt8(ascii: "0")) }
        return value <= ProtocolLimits.maxInteger ? value : nil
    }
}
