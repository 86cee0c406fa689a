import Foundation
import Testing

@testable import EventAckProtocol

/// Every file of `Spec/examples` through the codec: valid ones decode and round-trip, invalid ones fail with the
/// code and path their manifest entry names.
@Suite("Spec examples")
struct SpecExamplesTests {
    static let examples = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Spec/examples")

    struct Expectation: Decodable {
        var code: String
        var path: String
        var maxFrameBytes: Int?
    }

    static func files(_ folder: String) -> [URL] {
        let directory = examples.appendingPathComponent(folder)
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
        return names.filter { $0.hasSuffix(".json") && $0 != "manifest.json" }.sorted()
            .map { directory.appendingPathComponent($0) }
    }

    @Test("valid examples decode, cover every type and round-trip")
    func validExamples() throws {
        let codec = MessageCodec()
        var types = Set<MessageType>()
        let files = Self.files("valid")
        #expect(files.count >= MessageType.allCases.count)
        for file in files {
            let message = try codec.decode(bytes: try Data(contentsOf: file))
            types.insert(message.type)
            #expect(try codec.decode(codec.encode(message)) == message, "\(file.lastPathComponent)")
        }
        #expect(types == Set(MessageType.allCases))
    }

    @Test("invalid examples fail as the manifest says (EA-MSG-4, EA-MSG-6, EA-MSG-7, EA-MSG-9, EA-ACK-2)")
    func invalidExamples() throws {
        let manifestData = try Data(contentsOf: Self.examples.appendingPathComponent("invalid/manifest.json"))
        let manifest = try JSONDecoder().decode([String: Expectation].self, from: manifestData)
        let files = Self.files("invalid")
        #expect(files.count >= 25)
        #expect(Set(files.map(\.lastPathComponent)) == Set(manifest.keys))
        for file in files {
            guard let expected = manifest[file.lastPathComponent] else { continue }
            let codec = MessageCodec(maxFrameBytes: expected.maxFrameBytes ?? ProtocolLimits.defaultMaxFrameBytes)
            let data = try Data(contentsOf: file)
            do {
                _ = try codec.decode(bytes: data)
                Issue.record("\(file.lastPathComponent) decoded, expected \(expected.code)")
            } catch {
                #expect(error.code.rawValue == expected.code, "\(file.lastPathComponent): \(error)")
                #expect(error.path == expected.path, "\(file.lastPathComponent): \(error)")
            }
        }
    }

    @Test("every defined error code except the session-level ones has an invalid example or a test (EA-ERR-2)")
    func errorCodesExercised() throws {
        let manifestData = try Data(contentsOf: Self.examples.appendingPathComponent("invalid/manifest.json"))
        let manifest = try JSONDecoder().decode([String: Expectation].self, from: manifestData)
        let codecCodes: Set<String> = [
            "malformed_json", "invalid_message", "unknown_type", "frame_too_large", "invalid_ack", "too_many_ranges",
        ]
        #expect(codecCodes.isSubset(of: Set(manifest.values.map(\.code))))
    }
}
