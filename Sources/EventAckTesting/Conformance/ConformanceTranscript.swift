import Foundation

/// One conformance transcript (`Spec/conformance/*.json`, format in `Spec/CONFORMANCE.md`): frames into one machine,
/// with time steps, and the frames (and, for servers, reports) it must produce.
public struct ConformanceTranscript: Sendable, Decodable {
    /// Whose behaviour the transcript checks.
    public enum Role: String, Sendable, Decodable {
        /// What a conforming client sends for given server frames and app calls.
        case client
        /// What a conforming server sends and reports for given client frames and emits.
        case server
    }

    /// `eventack-conformance/1`.
    public var format: String
    /// A short name, unique in the suite.
    public var name: String
    /// Whose behaviour is checked.
    public var role: Role
    /// The spec requirements it covers, such as `EA-ACK-3`.
    public var covers: [String]
    /// What it shows, for people.
    public var description: String
    /// Configuration of the machine under test, by the names in `CONFORMANCE.md`.
    public var config: [String: TranscriptJSON]?
    /// The steps, in order.
    public var steps: [TranscriptJSON]

    /// The format this runner understands.
    public static let currentFormat = "eventack-conformance/1"

    /// Decodes a transcript file.
    public init(contentsOf path: String) throws {
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        self = try JSONDecoder().decode(ConformanceTranscript.self, from: data)
    }

    /// Every `*.json` transcript in `directory`, by file name.
    public static func load(directory: String) throws -> [(path: String, transcript: ConformanceTranscript)] {
        let names = try FileManager.default.contentsOfDirectory(atPath: directory).filter { $0.hasSuffix(".json") }
        return try names.sorted().map { name in
            let path = (directory as NSString).appendingPathComponent(name)
            return (path, try ConformanceTranscript(contentsOf: path))
        }
    }
}

/// The outcome of running one transcript.
public struct ConformanceResult: Sendable {
    /// The transcript's name.
    public var name: String
    /// Its role.
    public var role: ConformanceTranscript.Role
    /// The requirements it covers.
    public var covers: [String]
    /// What did not hold, each naming its step; empty when it passed.
    public var failures: [String]

    /// Whether every expectation held.
    public var passed: Bool { failures.isEmpty }
}

/// A step that could not be carried out or whose expectation failed.
struct StepFailure: Error {
    var message: String
}

extension ConformanceTranscript {
    /// Runs the transcript against the Swift machines (`ClientStateMachine` or
    /// `Reconciler`).
    public func run() -> ConformanceResult {
        var failures: [String] = []
        if format != Self.currentFormat { failures.append("format \(format) is not \(Self.currentFormat)") }
        do {
            switch role {
            case .server:
                var runner = try ServerTranscriptRunner(config: config ?? [:])
                failures += runner.run(steps)
            case .client:
                var runner = try ClientTranscriptRunner(config: config ?? [:])
                failures += runner.run(steps)
            }
        } catch {
            failures.append("config: \(error.message)")
        }
        return ConformanceResult(name: name, role: role, covers: covers, failures: failures)
    }
}

/// A runner of one role: carries out one step at a time, on the virtual time of its machine.
protocol TranscriptRunner {
    /// The current virtual time.
    var now: UInt64 { get set }
    /// The virtual time that `at: 0` stands for.
    var origin: UInt64 { get }
    /// When the machine wants its timer.
    var nextDeadline: UInt64? { get }
    /// Calls the machine's `timerFired(now:)` and collects what it does.
    mutating func fireTimers()
    mutating func perform(_ step: TranscriptJSON) throws(StepFailure)
}

extension TranscriptRunner {
    /// Runs the steps in order and stops at the first that fails, naming it.
    mutating func run(_ steps: [TranscriptJSON]) -> [String] {
        for (index, step) in steps.enumerated() {
            do {
                try perform(step)
            } catch {
                return ["step \(index + 1) \(step): \(error.message)"]
            }
        }
        return []
    }

    /// A step's `at`: moves time there, firing every deadline on the way at its own time.
    mutating func advanceTime(as step: TranscriptJSON) throws(StepFailure) {
        guard let at = step["at"] else { return }
        guard let offset = at.integer, origin + offset >= now else {
            throw StepFailure(message: "`at` must be a time at or after the previous one")
        }
        let target = origin + offset
        var firings = 0
        while let deadline = nextDeadline, deadline <= target {
            firings += 1
            if firings > 100_000 { throw StepFailure(message: "the timer keeps firing without progress (livelock)") }
            now = max(now, deadline)
            fireTimers()
        }
        now = target
        fireTimers()
    }
}

/// What both runners share: time, variables, the frames sent, and matching them against `out` steps.
struct TranscriptOutbox {
    /// One thing the machine did on the wire: a frame sent (and to which connection), or a connection closed.
    enum Item {
        case frame(String, to: String?)
        case close(String?)
    }

    var items: [Item] = []
    var variables = TranscriptVariables()

    /// Checks `expected` against everything sent since the last check, nothing more and nothing less, in order
    /// unless `unordered`; then forgets it.
    mutating func check(_ expected: TranscriptJSON, unordered: Bool) throws(StepFailure) {
        guard case .array(let patterns) = expected else { throw StepFailure(message: "`out` must be an array") }
        defer { items = [] }
        let sent = items.map(Self.describe).joined(separator: "\n    ")
        guard patterns.count == items.count else {
            throw StepFailure(
                message:
                    "expected \(patterns.count) outputs, got \(items.count):\n    \(sent.isEmpty ? "(nothing)" : sent)"
            )
        }
        var unused = items
        for (index, pattern) in patterns.enumerated() {
            let candidates = unordered ? Array(unused.indices) : [index - (items.count - unused.count)]
            guard let found = candidates.first(where: { matches(pattern, unused[$0]) }) else {
                throw StepFailure(message: "output \(index + 1) does not match \(pattern); sent:\n    \(sent)")
            }
            unused.remove(at: found)
        }
    }

    private mutating func matches(_ pattern: TranscriptJSON, _ item: Item) -> Bool {
        switch item {
        case .frame(let text, let connection):
            guard let message = pattern["message"],
                let actual = try? JSONDecoder().decode(TranscriptJSON.self, from: Data(text.utf8))
            else { return false }
            if let to = pattern["to"], connection.map({ TranscriptJSON.string($0) }) != to { return false }
            return variables.match(message, actual)
        case .close(let connection):
            guard let close = pattern["close"] else { return false }
            if case .string = close { return connection.map { TranscriptJSON.string($0) } == close }
            return close == .bool(true)
        }
    }

    private static func describe(_ item: Item) -> String {
        switch item {
        case .frame(let text, let connection): (connection.map { "\($0) ← " } ?? "") + text
        case .close(let connection): "close " + (connection ?? "")
        }
    }
}
