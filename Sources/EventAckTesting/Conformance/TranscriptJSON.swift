import EventAckProtocol

/// JSON as transcripts hold it: decoded with `JSONDecoder`, written back compactly for frames sent to the machine
/// under test, and matched against what the machine sent.
public enum TranscriptJSON: Sendable, Hashable, Codable, CustomStringConvertible {
    case null
    case bool(Bool)
    case number(Double)
    case string(String)
    case array([TranscriptJSON])
    case object([String: TranscriptJSON])

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() {
            self = .null
        } else if let bool = try? container.decode(Bool.self) {
            self = .bool(bool)
        } else if let number = try? container.decode(Double.self) {
            self = .number(number)
        } else if let string = try? container.decode(String.self) {
            self = .string(string)
        } else if let array = try? container.decode([TranscriptJSON].self) {
            self = .array(array)
        } else {
            self = .object(try container.decode([String: TranscriptJSON].self))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .null: try container.encodeNil()
        case .bool(let bool): try container.encode(bool)
        case .number(let number): try container.encode(number)
        case .string(let string): try container.encode(string)
        case .array(let array): try container.encode(array)
        case .object(let object): try container.encode(object)
        }
    }

    /// Compact JSON text, members in name order; integral numbers without a fraction.
    public var description: String {
        switch self {
        case .null: return "null"
        case .bool(let bool): return bool ? "true" : "false"
        case .number(let number):
            if number.rounded() == number, abs(number) < 9_007_199_254_740_992 { return String(Int64(number)) }
            return String(number)
        case .string(let string): return JSONWriter.quoted(string)
        case .array(let array): return "[" + array.map(\.description).joined(separator: ",") + "]"
        case .object(let object):
            let members = object.keys.sorted().map { JSONWriter.quoted($0) + ":" + object[$0]!.description }
            return "{" + members.joined(separator: ",") + "}"
        }
    }

    subscript(key: String) -> TranscriptJSON? {
        if case .object(let object) = self { return object[key] }
        return nil
    }

    var string: String? {
        if case .string(let string) = self { return string }
        return nil
    }

    var integer: UInt64? {
        if case .number(let number) = self, number >= 0, number.rounded() == number { return UInt64(number) }
        return nil
    }
}

/// Variables of a transcript: `"$name"` binds to what the machine sent the first time it is matched, and stands for
/// that value afterwards (in expectations and in frames sent). `"$*"` matches anything; `"$absent"` matches only a
/// member that is not there.
struct TranscriptVariables {
    var bound: [String: TranscriptJSON] = [:]

    /// `pattern` with every bound variable replaced by its value.
    func substitute(_ pattern: TranscriptJSON) -> TranscriptJSON {
        switch pattern {
        case .string(let name) where name.hasPrefix("$"): return bound[name] ?? pattern
        case .array(let array): return .array(array.map(substitute))
        case .object(let object): return .object(object.mapValues(substitute))
        default: return pattern
        }
    }

    /// Whether `actual` matches `pattern` (objects: every member of the pattern; extra members are ignored).
    /// Variables are bound only when the whole match succeeds.
    mutating func match(_ pattern: TranscriptJSON, _ actual: TranscriptJSON?) -> Bool {
        var trial = self
        guard trial.matchInPlace(pattern, actual) else { return false }
        self = trial
        return true
    }

    private mutating func matchInPlace(_ pattern: TranscriptJSON, _ actual: TranscriptJSON?) -> Bool {
        if case .string(let name) = pattern, name.hasPrefix("$") {
            switch name {
            case "$*": return actual != nil
            case "$absent": return actual == nil
            default:
                guard let actual else { return false }
                if let value = bound[name] { return value == actual }
                bound[name] = actual
                return true
            }
        }
        guard let actual else { return false }
        switch (pattern, actual) {
        case (.object(let expected), .object(let got)):
            return expected.keys.sorted().allSatisfy { matchInPlace(expected[$0]!, got[$0]) }
        case (.array(let expected), .array(let got)):
            return expected.count == got.count && zip(expected, got).allSatisfy { matchInPlace($0, $1) }
        default:
            return pattern == actual
        }
    }
}
