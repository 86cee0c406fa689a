import EventAckTesting
import Foundation

/// `eventack replay DIR|FILE…`: runs conformance transcripts against the Swift machines; `--coverage` prints the
/// requirements table of `Spec/CONFORMANCE.md`.
enum ReplayCommand {
    static let help = """
        usage: eventack replay DIR|FILE …
               eventack replay --coverage SPEC_MD TESTS_DIR DIR

        Runs each conformance transcript (see Spec/CONFORMANCE.md) against the Swift client or reconciler state
        machine and prints `PASS name` or `FAIL name` with what did not hold. Exit status: 0 all passed, 1 a failure,
        2 usage error or unreadable transcript.

        --coverage SPEC_MD TESTS_DIR DIR   print the requirements table (requirement, MUST, transcripts, tests)
        """

    static func run(_ arguments: [String]) -> Int32 {
        if arguments.first == "--coverage" {
            guard arguments.count == 4 else { return usageError("--coverage takes SPEC_MD TESTS_DIR DIR") }
            do {
                let spec = try String(contentsOfFile: arguments[1], encoding: .utf8)
                let transcripts = try ConformanceTranscript.load(directory: arguments[3]).map(\.transcript)
                let coverage = try RequirementCoverage(
                    spec: spec, transcripts: transcripts, testsDirectory: arguments[2])
                print(coverage.markdownTable, terminator: "")
                return 0
            } catch {
                return usageError("\(error)")
            }
        }
        guard !arguments.isEmpty else { return usageError("no transcript file or directory given") }
        var transcripts: [(path: String, transcript: ConformanceTranscript)] = []
        for argument in arguments {
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: argument, isDirectory: &isDirectory) else {
                return usageError("no such file or directory: \(argument)")
            }
            do {
                if isDirectory.boolValue {
                    transcripts += try ConformanceTranscript.load(directory: argument)
                } else {
                    transcripts.append((argument, try ConformanceTranscript(contentsOf: argument)))
                }
            } catch {
                return usageError("cannot read \(argument): \(error)")
            }
        }
        var failed = 0
        for (path, transcript) in transcripts {
            let result = transcript.run()
            if result.passed {
                print("PASS \(result.name) (\(result.role.rawValue); \(result.covers.joined(separator: " ")))")
            } else {
                failed += 1
                print("FAIL \(result.name) (\(path))")
                for failure in result.failures { print("  \(failure)") }
            }
        }
        print("\(transcripts.count - failed) of \(transcripts.count) transcripts passed")
        return failed == 0 ? 0 : 1
    }

    private static func usageError(_ message: String) -> Int32 {
        Output.usageError("replay", message, help: help)
    }
}
