/// A protocol version `MAJOR.MINOR`. Minor versions only add optional fields, so peers that share a major version
/// interoperate (EA-VER-1).
public struct ProtocolVersion: Hashable, Sendable, Comparable, LosslessStringConvertible, Codable {
    /// Incompatible revisions change the major version.
    public var major: UInt32
    /// Compatible additions change the minor version.
    public var minor: UInt32

    /// The version this package implements: 1.1 (1.0 plus `event.endsRun`). 1.0 peers interoperate: the server
    /// negotiates the lower minor (EA-VER-2) and a 1.0 client ignores the member anyway (EA-MSG-5).
    public static let current = ProtocolVersion(major: 1, minor: 1)

    /// 1.0, the first version.
    public static let initial = ProtocolVersion(major: 1, minor: 0)

    /// Creates a version.
    public init(major: UInt32, minor: UInt32) {
        self.major = major
        self.minor = minor
    }

    /// Parses `"MAJOR.MINOR"`: two decimal numbers without sign or leading zeros, at most 9 digits each.
    public init?(_ description: String) {
        let parts = description.utf8.split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false)
        guard parts.count == 2, let major = Self.parseComponent(parts[0]), let minor = Self.parseComponent(parts[1])
        else { return nil }
        self.init(major: major, minor: minor)
    }

    private static func parseComponent(_ digits: Substring.UTF8View.SubSequence) -> UInt32? {
        guard !digits.isEmpty, digits.count <= 9 else { return nil }
        if digits.count > 1, digits.first == UInt8(ascii: "0") { return nil }
        var value: UInt32 = 0
        for byte in digits {
            guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { return nil }
            value = value * 10 + UInt32(byte - UInt8(ascii: "0"))
        }
        return value
    }

    public var description: String { "\(major).\(minor)" }

    public static func < (lhs: Self, rhs: Self) -> Bool {
        (lhs.major, lhs.minor) < (rhs.major, rhs.minor)
    }

    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard let version = ProtocolVersion(text) else {
            throw DecodingError.dataCorrupted(
                .init(codingPath: decoder.codingPath, debugDescription: "not MAJOR.MINOR"))
        }
        self = version
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }

    /// Picks the version both peers speak (EA-VER-2): the highest major version offered by both, at the lower of
    /// the two highest minors for that major.
    ///
    /// - Throws: ``EventAckError`` with code ``ErrorCode/unsupportedVersion`` when no major version is shared.
    public static func negotiate(
        offered: [ProtocolVersion],
        supported: [ProtocolVersion]
    ) throws(EventAckError) -> ProtocolVersion {
        let sharedMajors = Set(offered.map(\.major)).intersection(supported.map(\.major))
        guard let major = sharedMajors.max() else {
            let offeredText = offered.map(\.description).joined(separator: ", ")
            let supportedText = supported.map(\.description).joined(separator: ", ")
            throw EventAckError(
                code: .unsupportedVersion,
                message: "no common major version: offered [\(offeredText)], supported [\(supportedText)]",
                path: "$.versions"
            )
        }
        let offeredMinor = offered.lazy.filter { $0.major == major }.map(\.minor).max() ?? 0
        let supportedMinor = supported.lazy.filter { $0.major == major }.map(\.minor).max() ?? 0
        return ProtocolVersion(major: major, minor: min(offeredMinor, supportedMinor))
    }
}
