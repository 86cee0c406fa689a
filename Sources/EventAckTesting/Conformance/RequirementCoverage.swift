import Foundation

/// Which numbered requirements of the spec are covered by which conformance transcripts and tests: the table of
/// `Spec/CONFORMANCE.md`, generated so that it cannot drift.
public struct RequirementCoverage: Sendable {
    /// One numbered requirement.
    public struct Requirement: Sendable, Hashable {
        /// Its id, such as `EA-ACK-3`.
        public var id: String
        /// Whether its text says MUST (or MUST NOT).
        public var isMust: Bool
        /// Transcripts that cite it, by name.
        public var transcripts: [String]
        /// Test files that cite it, by name without `.swift`.
        public var tests: [String]

        /// Covered by at least one transcript or test.
        public var isCovered: Bool { !transcripts.isEmpty || !tests.isEmpty }
    }

    /// In the spec's order.
    public var requirements: [Requirement]

    /// Reads the requirements of `spec` (`PROTOCOL.md`), the `covers` of `transcripts`, and the ids cited in the
    /// Swift files under `testsDirectory`.
    public init(spec: String, transcripts: [ConformanceTranscript], testsDirectory: String) throws {
        let ids = Self.requirements(in: spec)
        var citing: [String: Set<String>] = [:]
        for path in Self.swiftFiles(under: testsDirectory) {
            let text = try String(contentsOfFile: path, encoding: .utf8)
            let name = ((path as NSString).lastPathComponent as NSString).deletingPathExtension
            for id in Self.citedIDs(in: text) { citing[id, default: []].insert(name) }
        }
        requirements = ids.map { id, isMust in
            Requirement(
                id: id, isMust: isMust,
                transcripts: transcripts.filter { $0.covers.contains(id) }.map(\.name).sorted(),
                tests: (citing[id] ?? []).sorted())
        }
    }

    /// The Markdown table: requirement, MUST or not, transcripts, tests (or "not yet covered").
    public var markdownTable: String {
        var lines = ["| requirement | MUST | transcripts | tests |", "| --- | --- | --- | --- |"]
        for requirement in requirements {
            let transcripts = requirement.transcripts.isEmpty ? "—" : requirement.transcripts.joined(separator: ", ")
            let tests =
                requirement.isCovered
                ? (requirement.tests.isEmpty ? "—" : requirement.tests.joined(separator: ", ")) : "**not yet covered**"
            lines.append("| \(requirement.id) | \(requirement.isMust ? "yes" : "") | \(transcripts) | \(tests) |")
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// `(id, isMust)` for every `- **EA-…**` bullet of the spec, its text running to the next bullet or heading.
    static func requirements(in spec: String) -> [(String, Bool)] {
        var found: [(String, Bool)] = []
        var current: (id: String, text: String)?
        func flush() {
            if let current { found.append((current.id, current.text.contains("MUST"))) }
            current = nil
        }
        for line in spec.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.hasPrefix("- **EA-"), let end = line.dropFirst(4).firstIndex(of: "*") {
                flush()
                current = (String(line[line.index(line.startIndex, offsetBy: 4)..<end]), String(line))
            } else if line.hasPrefix("- ") || line.hasPrefix("#") || line.isEmpty {
                flush()
            } else if current != nil {
                current!.text += " " + line
            }
        }
        flush()
        return found
    }

    static func citedIDs(in text: String) -> Set<String> {
        var ids = Set<String>()
        var rest = Substring(text)
        while let start = rest.range(of: "EA-") {
            var end = start.upperBound
            while end < rest.endIndex, rest[end].isUppercase { end = rest.index(after: end) }
            guard end < rest.endIndex, rest[end] == "-" else {
                rest = rest[start.upperBound...]
                continue
            }
            var digitsEnd = rest.index(after: end)
            while digitsEnd < rest.endIndex, rest[digitsEnd].isNumber { digitsEnd = rest.index(after: digitsEnd) }
            if digitsEnd > rest.index(after: end) { ids.insert(String(rest[start.lowerBound..<digitsEnd])) }
            rest = rest[digitsEnd...]
        }
        return ids
    }

    private static func swiftFiles(under directory: String) -> [String] {
        guard let enumerator = FileManager.default.enumerator(atPath: directory) else { return [] }
        return enumerator.compactMap { $0 as? String }.filter { $0.hasSuffix(".swift") }.sorted().map {
            (directory as NSString).appendingPathComponent($0)
        }
    }
}
