import EventAckProtocol
import Foundation
import Testing

@testable import EventAckTesting

/// The conformance suite of `Spec/conformance` against the Swift machines, and the checks that keep it honest.
@Suite("Conformance transcripts")
struct ConformanceTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()
    static let directory = root.appendingPathComponent("Spec/conformance").path
    static let transcripts = (try? ConformanceTranscript.load(directory: directory)) ?? []

    @Test("every transcript passes", arguments: transcripts.map(\.path))
    func transcriptPasses(path: String) throws {
        let result = try ConformanceTranscript(contentsOf: path).run()
        #expect(result.failures == [], "\(result.name)")
    }

    @Test("the suite has at least 30 transcripts, both roles, unique names, and every error code")
    func suiteShape() throws {
        let transcripts = Self.transcripts.map(\.transcript)
        #expect(transcripts.count >= 30)
        #expect(Set(transcripts.map(\.role.rawValue)) == ["client", "server"])
        #expect(Set(transcripts.map(\.name)).count == transcripts.count)
        for (path, transcript) in Self.transcripts {
            #expect(path.hasSuffix("/\(transcript.name).json"), "file name and name agree")
            #expect(!transcript.covers.isEmpty)
        }
        let text = try Self.transcripts.map { try String(contentsOfFile: $0.path, encoding: .utf8) }.joined()
        for code in ErrorCode.allDefined {
            #expect(text.contains("\"\(code.rawValue)\""), "no transcript shows \(code.rawValue)")
        }
    }

    /// The coverage of the spec file `name`'s requirements, and CONFORMANCE.md's text.
    static func coverage(of name: String) throws -> (RequirementCoverage, document: String) {
        let text = { (path: String) in
            try String(contentsOfFile: Self.root.appendingPathComponent(path).path, encoding: .utf8)
        }
        let coverage = try RequirementCoverage(
            spec: try text("Spec/\(name)"), transcripts: Self.transcripts.map(\.transcript),
            testsDirectory: Self.root.appendingPathComponent("Tests").path)
        return (coverage, try text("Spec/CONFORMANCE.md"))
    }

    @Test("CONFORMANCE.md's requirements table is the generated one")
    func coverageTableIsCurrent() throws {
        let (coverage, document) = try Self.coverage(of: "PROTOCOL.md")
        #expect(document.hasSuffix(coverage.markdownTable), "regenerate with `eventack replay --coverage`")
        #expect(coverage.requirements.count > 50)
        let uncoveredMusts = coverage.requirements.filter { $0.isMust && !$0.isCovered }.map(\.id)
        #expect(uncoveredMusts == [])
    }

    @Test("CONFORMANCE.md's publish API table is the generated one")
    func publishCoverageTableIsCurrent() throws {
        let (coverage, document) = try Self.coverage(of: "PUBLISH.md")
        #expect(document.contains(coverage.markdownTable), "regenerate with `eventack replay --coverage`")
        #expect(coverage.requirements.map(\.id).contains("EA-PUB-13"))
    }

    @Test("CONFORMANCE.md's browser table is the generated one, from the AgentServer package's tests")
    func browserCoverageTableIsCurrent() throws {
        let coverage = try RequirementCoverage(
            spec: try String(contentsOf: Self.root.appendingPathComponent("Spec/BROWSER.md"), encoding: .utf8),
            transcripts: Self.transcripts.map(\.transcript),
            testsDirectory: Self.root.appendingPathComponent("Examples/AgentServer/Tests").path)
        let document = try String(contentsOf: Self.root.appendingPathComponent("Spec/CONFORMANCE.md"), encoding: .utf8)
        #expect(document.contains(coverage.markdownTable), "regenerate with `eventack replay --coverage`")
        let uncoveredMusts = coverage.requirements.filter { $0.isMust && !$0.isCovered }.map(\.id)
        #expect(coverage.requirements.count == 5 && uncoveredMusts == [])
    }

    @Test("a transcript whose expectation does not hold fails, naming the step")
    func brokenTranscriptFails() throws {
        var transcript = try #require(Self.transcripts.first { $0.transcript.name == "server-fast-retransmit" })
            .transcript
        // Expect the retransmission of seq 3 instead of seq 2.
        let broken = transcript.steps.map { step -> TranscriptJSON in
            step.description.contains("\"attempt\":2") ? Self.replacing(step, "\"seq\":2", with: "\"seq\":3") : step
        }
        transcript.steps = broken
        let result = transcript.run()
        #expect(!result.passed)
        #expect(result.failures.first?.contains("does not match") == true)
    }

    @Test("requirements are read from the spec's bullets, MUST from their whole text")
    func requirementParsing() {
        let spec = """
            - **EA-X-1** Something MUST
              happen.
            - **EA-X-2** Something may
              happen; a lower-case must does not count.
            - unrelated MUST
            """
        let found = RequirementCoverage.requirements(in: spec)
        #expect(found.map(\.0) == ["EA-X-1", "EA-X-2"])
        #expect(found.map(\.1) == [true, false])
        #expect(RequirementCoverage.citedIDs(in: "(EA-ABC-3, EA-DEF-12) EA-no EA-X-") == ["EA-ABC-3", "EA-DEF-12"])
    }

    static func replacing(_ json: TranscriptJSON, _ old: String, with new: String) -> TranscriptJSON {
        let text = json.description.replacingOccurrences(of: old, with: new)
        return (try? JSONDecoder().decode(TranscriptJSON.self, from: Data(text.utf8))) ?? json
    }
}
