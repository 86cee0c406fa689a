import Foundation
import HTTPTypes

/// An ``EventAckAuthenticator`` from a table of bearer tokens: `token=principal` pairs separated by commas or
/// newlines (the AgentServer reads them from `--tokens`, the `EVENTACK_TOKENS` environment variable, or a file given
/// with `--tokens-file`), publishers' tokens in the same form, and one operator token. Tokens are compared in constant
/// time.
public struct TokenTable: EventAckAuthenticator {
    private var principals: [String: String] = [:]
    private var publishers: [String: String] = [:]

    /// A table of users' tokens; throws ``TokenTableError`` for an entry that is not `token=principal`, or none.
    public init(_ text: String) throws {
        principals = try Self.parse(text)
        guard !principals.isEmpty else { throw TokenTableError(message: "no tokens configured") }
    }

    /// Adds publishers' tokens, `token=name` pairs like the users'.
    public mutating func addPublishers(_ text: String) throws {
        publishers.merge(try Self.parse(text)) { $1 }
    }

    private static func parse(_ text: String) throws -> [String: String] {
        var table: [String: String] = [:]
        for entry in text.split(whereSeparator: { $0 == "," || $0 == "\n" }) {
            let parts = entry.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty else {
                throw TokenTableError(message: "a token entry is `token=principal`, not `\(entry)`")
            }
            table[parts[0]] = parts[1]
        }
        return table
    }

    /// The operator's token, compared in constant time; `nil` when none is configured.
    public var operatorToken: String?

    public func credential(of headers: HTTPFields) -> EventAckCredential {
        guard let value = headers[.authorization], value.hasPrefix("Bearer ") else { return .missing }
        let token = String(value.dropFirst("Bearer ".count))
        if let operatorToken, Self.constantTimeEqual(operatorToken, token) { return .operator }
        if let principal = principals[token] { return .user(principal) }
        return publishers[token].map { .publisher($0) } ?? .unknown
    }

    private static func constantTimeEqual(_ lhs: String, _ rhs: String) -> Bool {
        let (left, right) = (Array(lhs.utf8), Array(rhs.utf8))
        var difference = left.count ^ right.count
        for index in 0..<max(left.count, right.count) {
            difference |= Int((index < left.count ? left[index] : 0) ^ (index < right.count ? right[index] : 0))
        }
        return difference == 0
    }
}

/// A token table that cannot be read.
public struct TokenTableError: Error, CustomStringConvertible {
    /// What is wrong.
    public var message: String
    public var description: String { message }
}
