/// Writes compact, deterministic JSON into a byte buffer: members in a fixed order, no whitespace, minimal string
/// escapes (`"`, `\` and control characters only). `package`: the reconciler writes its store records with it.
///
/// The buffer is its own allocation, written through a pointer: an `Array`'s append checks uniqueness and capacity
/// out of line on every call, and a frame or a record is dozens of small appends. A writer is written by one owner:
/// copies share the buffer (a copy is only ever moved, as into an array of writers), so never write to two copies.
package struct JSONWriter {
    /// Frees the buffer when the last copy of the writer goes.
    private final class Allocation {
        let base: UnsafeMutablePointer<UInt8>
        init(capacity: Int) { base = .allocate(capacity: capacity) }
        deinit { base.deallocate() }
    }

    private var allocation: Allocation
    private var base: UnsafeMutablePointer<UInt8>
    private var capacity: Int
    /// Bytes written.
    private var count = 0

    package init(capacity: Int) {
        self.capacity = max(capacity, 16)
        allocation = Allocation(capacity: self.capacity)
        base = allocation.base
    }

    /// The bytes written so far (a copy).
    package var bytes: [UInt8] { withBytes { Array($0) } }

    /// Lends the bytes written so far, without copying them.
    private func withBytes<Result>(_ body: (UnsafeBufferPointer<UInt8>) throws -> Result) rethrows -> Result {
        try body(UnsafeBufferPointer(start: base, count: count))
    }

    /// The bytes written so far, as a string (they are UTF-8 by construction).
    package var text: String { withBytes { String(decoding: $0, as: UTF8.self) } }

    @inline(__always)
    private mutating func reserve(_ extra: Int) {
        if count + extra > capacity { grow(to: count + extra) }
    }

    @inline(never)
    private mutating func grow(to needed: Int) {
        capacity = max(needed, capacity * 2)
        let larger = Allocation(capacity: capacity)
        larger.base.update(from: base, count: count)
        allocation = larger
        base = larger.base
    }

    @inline(__always)
    private mutating func write(_ byte: UInt8) {
        reserve(1)
        base[count] = byte
        count += 1
    }

    @inline(__always)
    private mutating func write(_ span: UnsafeBufferPointer<UInt8>) {
        guard let start = span.baseAddress, !span.isEmpty else { return }
        reserve(span.count)
        (base + count).update(from: start, count: span.count)
        count += span.count
    }

    /// Opens an object and writes its `"type"` member.
    package mutating func beginMessage(_ type: StaticString) {
        append("{\"type\":\"")
        append(type)
        write(UInt8(ascii: "\""))
    }

    package mutating func beginObject() { write(UInt8(ascii: "{")) }
    package mutating func endObject() { write(UInt8(ascii: "}")) }
    package mutating func beginArray() { write(UInt8(ascii: "[")) }
    package mutating func endArray() { write(UInt8(ascii: "]")) }
    package mutating func comma() { write(UInt8(ascii: ",")) }

    /// Writes `,"name":` (or `"name":` for the first member of an object).
    package mutating func key(_ name: StaticString, first: Bool = false) {
        if !first { write(UInt8(ascii: ",")) }
        write(UInt8(ascii: "\""))
        append(name)
        append("\":")
    }

    package mutating func string(_ value: String) {
        write(UInt8(ascii: "\""))
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
                    write(UnsafeBufferPointer(rebasing: utf8[runStart..<index]))
                    appendEscape(byte)
                    runStart = index + 1
                }
                index += 1
            }
            write(UnsafeBufferPointer(rebasing: utf8[runStart...]))
        }
        write(UInt8(ascii: "\""))
    }

    package mutating func integer(_ value: UInt64) {
        if value < 10 {
            write(UInt8(ascii: "0") + UInt8(value))
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
            write(UnsafeBufferPointer(rebasing: digits[position..<20]))
        }
    }

    /// Writes a finite double: integral values within the JSON-safe range without a fraction, others in Swift's
    /// shortest round-tripping form (which is valid JSON for finite values).
    package mutating func double(_ value: Double) {
        if value == value.rounded(), abs(value) <= Double(ProtocolLimits.maxInteger) {
            if value < 0 { write(UInt8(ascii: "-")) }
            integer(UInt64(abs(value)))
        } else {
            var text = value.description
            text.withUTF8 { write($0) }
        }
    }

    /// Writes `[e0,e1,…]`, each element by `element`.
    package mutating func array<Elements: Sequence>(
        _ elements: Elements, _ element: (inout JSONWriter, Elements.Element) -> Void
    ) {
        beginArray()
        var first = true
        for item in elements {
            if !first { comma() }
            first = false
            element(&self, item)
        }
        endArray()
    }

    /// Writes `[a,b]`: a pair of integers (a range's bounds, a histogram bucket's bound and count).
    package mutating func pair(_ a: UInt64, _ b: UInt64) {
        beginArray()
        integer(a)
        comma()
        integer(b)
        endArray()
    }

    /// Writes ranges as `[[low,high],…]`, the spelling of ack sets' `ranges`.
    package mutating func ranges(_ ranges: [ClosedRange<UInt64>]) {
        array(ranges) { writer, range in writer.pair(range.lowerBound, range.upperBound) }
    }

    package mutating func bool(_ value: Bool) {
        append(value ? "true" : "false")
    }

    /// Appends text that is already compact JSON (a payload).
    package mutating func raw(_ json: String) {
        var json = json
        json.withUTF8 { write($0) }
    }

    /// `value` as a JSON string literal, with the writer's escapes.
    package static func quoted(_ value: String) -> String {
        var writer = JSONWriter(capacity: value.utf8.count + 2)
        writer.string(value)
        return writer.text
    }

    package mutating func append(_ text: StaticString) {
        text.withUTF8Buffer { write($0) }
    }

    private mutating func appendEscape(_ byte: UInt8) {
        write(UInt8(ascii: "\\"))
        switch byte {
        case UInt8(ascii: "\""), UInt8(ascii: "\\"): write(byte)
        case 0x08: write(UInt8(ascii: "b"))
        case 0x0C: write(UInt8(ascii: "f"))
        case 0x0A: write(UInt8(ascii: "n"))
        case 0x0D: write(UInt8(ascii: "r"))
        case 0x09: write(UInt8(ascii: "t"))
        default:
            let hex: StaticString = "0123456789abcdef"
            append("u00")
            hex.withUTF8Buffer { digits in
                write(digits[Int(byte >> 4)])
                write(digits[Int(byte & 0x0F)])
            }
        }
    }
}
