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
        guard let value = headers[.authorization], value.hasPrefix("Bearer ") else { return nil }
        return principals[String(value.dropFirst("Bearer ".count))]
    }
}

struct TokenTableError: Error, CustomStringConvertible {
    var message: String
    var description: String { message }
}
