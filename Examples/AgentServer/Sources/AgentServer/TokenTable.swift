import Foundation
import HTTPTypes

/// Bearer tokens and the principals they stand for: `token=principal` pairs separated by commas or newlines, from
/// `--tokens`, the `EVENTACK_TOKENS` environment variable, or a file given with `--tokens-file`.
struct TokenTable: Sendable {
    private var principals: [String: String] = [:]

    init(_ text: String) throws {
        for entry in text.split(whereSeparator: { $0 == "," || $0 == "\n" }) {
            let parts = entry.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty else {
                throw TokenTableError(message: "a token entry is `token=principal`, not `\(entry)`")
            }
            principals[parts[0]] = parts[1]
        }
        guard !principals.isEmpty else { throw TokenTableError(message: "no tokens configured") }
    }

    /// The principal of a request's `Authorization: Bearer TOKEN` header, if the token is known.
    func principal(of headers: HTTPFields) -> String? {
        guard case .known(let principal) = credential(of: headers) else { return nil }
        return principal
    }

    /// What a request's `Authorization` header says.
    enum Credential: Equatable {
        /// No bearer token.
        case missing
        /// A bearer token nobody was given.
        case unknown
        /// A user's token.
        case known(String)
        /// The operator's token (`--operator-token`).
        case operatorAccess
    }

    /// The operator's token, compared in constant time; `nil` when none is configured.
    var operatorToken: String?

    func credential(of headers: HTTPFields) -> Credential {
        guard let value = headers[.authorization], value.hasPrefix("Bearer ") else { return .missing }
        let token = String(value.dropFirst("Bearer ".count))
        if let operatorToken, Self.constantTimeEqual(operatorToken, token) { return .operatorAccess }
        return principals[token].map { .known($0) } ?? .unknown
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

struct TokenTableError: Error, CustomStringConvertible {
    var message: String
    var description: String { message }
}
