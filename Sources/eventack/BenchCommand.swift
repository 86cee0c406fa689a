import EventAckProtocol

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// `eventack bench [CASE…] [--json]`: the one home of in-process micro benchmarks.
///
/// Each case runs 5 repetitions of a calibrated number of operations (about 0.2 s each) after a warm-up, and
/// reports the median, minimum and maximum nanoseconds per operation. Build in release for meaningful numbers:
/// `swift run -c release eventack bench`.
enum BenchCommand {
    static let repetitions = 5

    static let help = """
        usage: eventack bench [CASE-PREFIX…] [--json] [--list]

        Runs the micro benchmarks whose names start with any given prefix (all when none is given), 5 repetitions
        each, and prints one row per case: name, operations per repetition, median ns/op, min ns/op, max ns/op.
        --json   one JSON object per line instead of a table
        --list   print the case names and exit
        --memory print heap bytes per outstanding event and per idle session of the reconciler, then exit
        """

    static func run(_ arguments: [String]) -> Int32 {
        let json = arguments.contains("--json")
        let prefixes = arguments.filter { !$0.hasPrefix("-") }
        if let option = arguments.first(where: { $0.hasPrefix("-") && !["--json", "--list", "--memory"].contains($0) })
        {
            return Output.usageError("bench", "unknown option '\(option)'", help: help)
        }
        let cases = BenchCases.all.filter { benchCase in
            prefixes.isEmpty || prefixes.contains { benchCase.name.hasPrefix($0) }
        }
        if arguments.contains("--memory") {
            for row in ReconcilerMemoryBench.run() {
                let name = row.name.padding(toLength: nameWidth, withPad: " ", startingAt: 0)
                print(name + "\(Int(row.bytes)) bytes\t\(row.note)")
            }
            return 0
        }
        if arguments.contains("--list") {
            for benchCase in BenchCases.all { print(benchCase.name) }
            return 0
        }
        guard !cases.isEmpty else {
            Output.error("eventack bench: no case matches \(prefixes); try --list")
            return 2
        }
        #if DEBUG
            Output.error("eventack bench: warning: debug build; use `swift run -c release eventack bench`")
        #endif
        if !json {
            print(row("case", "ops", "median_ns", "min_ns", "max_ns"))
        }
        for benchCase in cases {
            let result = measure(benchCase)
            if json {
                print(
                    #"{"case":"\#(benchCase.name)","ops":\#(result.operations),"#
                        + #""median_ns":\#(format(result.median)),"#
                        + #""min_ns":\#(format(result.min)),"max_ns":\#(format(result.max))}"#)
            } else {
                print(
                    row(
                        benchCase.name, "\(result.operations)", format(result.median), format(result.min),
                        format(result.max)))
            }
        }
        return 0
    }

    struct Result {
        var operations: Int
        var median: Double
        var min: Double
        var max: Double
    }

    static func measure(_ benchCase: BenchCase) -> Result {
        // Calibrate: grow the operation count until one repetition takes at least 0.2 s (capped by the case).
        var operations = max(1, min(1_000, benchCase.maxOperations))
        while operations < benchCase.maxOperations {
            let elapsed = time { benchCase.body(operations) }
            if elapsed >= 0.2e9 { break }
            let scale = elapsed > 0 ? min(10.0, 0.25e9 / elapsed) : 10
            operations = min(benchCase.maxOperations, Int(Double(operations) * max(scale, 1.5)))
        }
        var samples: [Double] = []
        for _ in 0..<repetitions {
            samples.append(time { benchCase.body(operations) } / Double(operations))
        }
        samples.sort()
        return Result(operations: operations, median: samples[samples.count / 2], min: samples[0], max: samples.last!)
    }

    /// Nanoseconds taken by `body`.
    static func time(_ body: () -> Void) -> Double {
        var start = timespec()
        var end = timespec()
        clock_gettime(CLOCK_MONOTONIC, &start)
        body()
        clock_gettime(CLOCK_MONOTONIC, &end)
        return Double(end.tv_sec - start.tv_sec) * 1e9 + Double(end.tv_nsec - start.tv_nsec)
    }

    static func format(_ nanoseconds: Double) -> String {
        let rounded = (nanoseconds * 10).rounded() / 10
        return "\(rounded)"
    }

    /// The width of the case-name column: the longest name (35 characters) and room to spare.
    static let nameWidth = 38

    static func row(_ columns: String...) -> String {
        columns.enumerated().map { index, column in
            index == 0 ? column.padding(toLength: nameWidth, withPad: " ", startingAt: 0) : column
        }.joined(separator: "\t")
    }
}

/// One benchmark: `body(n)` performs `n` operations.
struct BenchCase {
    var name: String
    var maxOperations: Int = 50_000_000
    var body: (Int) -> Void
}

/// Keeps a value alive so that the optimiser cannot drop the work that produced it.
@inline(never)
func blackHole<T>(_ value: T) {
    withExtendedLifetime(value) {}
}
