#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// An event's content: a JSON object kept as compact JSON text.
///
/// The codec validates a payload but does not materialise it, so relaying an event costs one copy of its bytes.
/// Apps read it with ``decode(as:)`` (Foundation `Decodable`) or ``value()`` (a ``JSONValue`` tree).
public struct Payload: Hashable, Sendable, CustomStringConvertible {
    /// The payload as compact JSON text: no insignificant whitespace, members in the order they were written.
    public let json: String

    /// The empty object `{}`.
    public static let empty = Payload(trustedCompactJSON: "{}")

    /// Validates `json` as a JSON object and keeps it in compact form.
    ///
    /// - Throws: ``ErrorCode/malformedJSON`` when it is not JSON, ``ErrorCode/invalidMessage`` when it is JSON but
    ///   not an object or nested deeper than ``ProtocolLimits/maxNestingDepth``.
    public init(json: String) throws(EventAckError) {
        var text = json
        self = try text.withUTF8Bytes { bytes throws(EventAckError) in
            var scanner = JSONScanner(bytes)
            let span = try scanner.scanDocument(path: .root)
            guard span.kind == .object else {
                throw EventAckError(code: .invalidMessage, message: "a payload must be a JSON object", path: "$")
            }
            return Payload(span: span, in: bytes)
        }
    }

    /// Encodes `value` with Foundation's `JSONEncoder` (keys sorted, so the result is deterministic).
    ///
    /// - Throws: the encoder's error, or ``EventAckError`` when `value` does not encode to a JSON object.
    public init(encoding value: some Encodable) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let data = try encoder.encode(value)
        try self.init(json: String(decoding: data, as: UTF8.self))
    }

    init(trustedCompactJSON json: String) {
        self.json = json
    }

    /// A payload from a span the scanner already validated; whitespace is removed only when there is some.
    init(span: JSONSpan, in bytes: UnsafeBufferPointer<UInt8>) {
        let slice = UnsafeBufferPointer(rebasing: bytes[span.start..<span.end])
        if span.hasWhitespace {
            json = JSONMinifier.minify(slice)
        } else {
            json = String(decoding: slice, as: UTF8.self)
        }
    }

    /// Decodes the payload as `type` with Foundation's `JSONDecoder`.
    public func decode<T: Decodable>(as type: T.Type = T.self) throws -> T {
        try JSONDecoder().decode(type, from: Data(json.utf8))
    }

    /// The payload as a ``JSONValue`` tree (always an ``JSONValue/object(_:)``).
    public func value() -> JSONValue {
        var text = json
        return text.withUTF8 { bytes in
            var parser = JSONValueParser(bytes)
            // The text was validated on the way in, so parsing cannot fail; an empty object is the safe fallback.
            return (try? parser.parse()) ?? .object([])
        }
    }

    /// The value of a top-level member, if present. Only that member's value is built, so checking one member of
    /// a large payload costs a scan, not a tree.
    public subscript(member name: String) -> JSONValue? {
        var text = json
        return text.withUTF8 { bytes in
            var parser = JSONValueParser(bytes)
            return try? parser.member(name)
        }
    }

    public var description: String { json }
}

extension Payload {
    /// A payload from an object that ``JSONValue/init(parsingObject:)`` parsed as part of a larger document: it was
    /// validated then (its nesting counted from the document's root, stricter than from its own), so its compact text
    /// is taken as it is instead of being scanned again — what a publish request's hundred payloads would cost twice.
    @_spi(Shell) public init?(parsedObject value: JSONValue) {
        guard case .object = value else { return nil }
        self.init(trustedCompactJSON: value.jsonText)
    }
}
