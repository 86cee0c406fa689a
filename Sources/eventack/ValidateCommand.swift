import EventAckProtocol
import Foundation

/// `eventack validate FILE|DIR …` and `eventack validate --examples DIR`.
///
/// Each file holds one message. Plain mode prints `PATH: ok TYPE` or `PATH: CODE at JSON_PATH: message` per file
/// and exits 1 when any file is invalid. Examples mode checks `DIR/valid` (each must decode) and `DIR/invalid`
/// (each must fail with the code and path its `manifest.json` entry names) and exits 1 on any mismatch.
enum ValidateCommand {
    static let help = """
        usage: eventack validate FILE|DIR …
               eventack validate --examples DIR

        Checks protocol message files (one JSON message per file; directories are searched for *.json, manifest.json
        excluded). Prints one line per file: `PATH: ok TYPE` or `PATH: CODE at JSON_PATH: message`.
        Exit status: 0 all valid, 1 any invalid, 2 usage error.

        --examples DIR   check DIR/valid (must pass) and DIR/invalid (must fail as DIR/invalid/manifest.json says)
        """

    static func run(_ arguments: [String]) -> Int32 {
        if arguments.first == "--examples" {
            guard arguments.count == 2 else { return usageError("--examples takes exactly one directory") }
            return checkExamples(in: arguments[1])
        }
        if let option = arguments.first(where: { $0.hasPrefix("-") }) {
            return usageError("unknown option '\(option)'")
        }
        guard !arguments.isEmpty else { return usageError("no file or directory given") }
        var files: [String] = []
        for argument in arguments {
            guard let found = MessageFiles.expand(argument) else {
                return usageError("no such file or directory: \(argument)")
            }
            files += found
        }
        var anyInvalid = false
        for file in files {
            switch MessageFiles.check(file) {
            case .success(let type): print("\(file): ok \(type.rawValue)")
            case .failure(let error):
                anyInvalid = true
                print("\(file): \(error.code) at \(error.path ?? "$"): \(error.message)")
            }
        }
        return anyInvalid ? 1 : 0
    }

    static func checkExamples(in directory: String) -> Int32 {
        let manifestPath = "\(directory)/invalid/manifest.json"
        let manifest: ExampleManifest
        do {
            manifest = try ExampleManifest.load(manifestPath)
        } catch {
            Output.error("eventack validate: cannot read \(manifestPath): \(error)")
            return 2
        }
        guard let validFiles = MessageFiles.expand("\(directory)/valid"),
            let invalidFiles = MessageFiles.expand("\(directory)/invalid")
        else { return usageError("\(directory) must contain valid/ and invalid/") }

        var mismatches = 0
        for file in validFiles {
            switch MessageFiles.check(file) {
            case .success(let type): print("\(file): ok \(type.rawValue)")
            case .failure(let error):
                mismatches += 1
                print("\(file): MISMATCH expected valid, got \(error)")
            }
        }
        let listed = Set(manifest.entries.keys)
        let present = Set(invalidFiles.map { ($0 as NSString).lastPathComponent })
        for missing in listed.subtracting(present).sorted() {
            mismatches += 1
            print("\(directory)/invalid/\(missing): MISMATCH listed in the manifest but missing")
        }
        for file in invalidFiles {
            let name = (file as NSString).lastPathComponent
            guard let expected = manifest.entries[name] else {
                mismatches += 1
                print("\(file): MISMATCH not listed in manifest.json")
                continue
            }
            let codec = MessageCodec(maxFrameBytes: expected.maxFrameBytes ?? ProtocolLimits.defaultMaxFrameBytes)
            switch MessageFiles.check(file, codec: codec) {
            case .success(let type):
                mismatches += 1
                print("\(file): MISMATCH expected \(expected.code), but it decoded as \(type.rawValue)")
            case .failure(let error) where error.code.rawValue == expected.code && error.path == expected.path:
                print("\(file): \(error.code) at \(error.path ?? "$"): \(error.message)")
            case .failure(let error):
                mismatches += 1
                print("\(file): MISMATCH expected \(expected.code) at \(expected.path), got \(error)")
            }
        }
        let total = validFiles.count + invalidFiles.count
        print("\(total - mismatches) of \(total) examples as expected")
        return mismatches == 0 ? 0 : 1
    }

    static func usageError(_ message: String) -> Int32 {
        Output.usageError("validate", message, help: help)
    }
}

/// Finding and checking message files.
enum MessageFiles {
    /// The message files named by a path: the file itself, or every `*.json` below a directory (sorted, without
    /// `manifest.json`). `nil` when the path does not exist.
    static func expand(_ path: String) -> [String]? {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else { return nil }
        guard isDirectory.boolValue else { return [path] }
        guard let enumerator = FileManager.default.enumerator(atPath: path) else { return [] }
        var files: [String] = []
        while let relative = enumerator.nextObject() as? String {
            let name = (relative as NSString).lastPathComponent
            if relative.hasSuffix(".json") && name != "manifest.json" {
                files.append(path.hasSuffix("/") ? path + relative : "\(path)/\(relative)")
            }
        }
        return files.sorted()
    }

    /// Decodes one file with the codec.
    static func check(_ path: String, codec: MessageCodec = MessageCodec()) -> Result<MessageType, EventAckError> {
        guard let data = FileManager.default.contents(atPath: path) else {
            return .failure(EventAckError(code: .internal, message: "cannot read file"))
        }
        do throws(EventAckError) {
            // A trailing newline is common in files and is insignificant JSON whitespace.
            return .success(try codec.decode(bytes: data).type)
        } catch {
            return .failure(error)
        }
    }
}

/// `Spec/examples/invalid/manifest.json`: for each invalid example, the error it must produce.
struct ExampleManifest: Decodable {
    struct Entry: Decodable {
        /// The expected error code.
        var code: String
        /// The expected JSON path.
        var path: String
        /// Whether the JSON Schema can detect the violation (checked by `.ci/schema_check.py`).
        var schema: Bool
        /// A frame size limit other than the default, for `frame_too_large` examples.
        var maxFrameBytes: Int?
        /// What rule the example breaks.
        var rule: String
    }

    var entries: [String: Entry]

    static func load(_ path: String) throws -> ExampleManifest {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw EventAckError(code: .internal, message: "missing file")
        }
        return ExampleManifest(entries: try JSONDecoder().decode([String: Entry].self, from: data))
    }
}
