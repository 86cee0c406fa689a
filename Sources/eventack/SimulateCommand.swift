import EventAckReconciler
import EventAckTesting

/// `eventack simulate`: deterministic simulations of one reconciler and many clients over a faulty network, with
/// the protocol's invariants checked after each seed.
enum SimulateCommand {
    static let help = """
        usage: eventack simulate [--seed N | --seeds A..B] [--sessions N] [--runs N] [--faults none|mixed]
                                 [--drop P] [--duplicate P] [--reorder P] [--delay-ms A..B]
                                 [--disconnect P] [--client-restart P] [--snapshot-restart P]
                                 [--server-bye P] [--resume-storm P] [--hostile P] [--server-crash P]
                                 [--store-faults P] [--quiet] [--trace]

        Runs one simulation per seed and prints a one-line summary for each (with --quiet, only for seeds that
        break an invariant), then the totals and the merged report. A failing seed prints its violations and the
        command that replays it exactly. Exit status: 0 every invariant held, 1 a violation, 2 usage error.

        --seed N           one seed (default 1)
        --seeds A..B       every seed from A to B
        --sessions N       client sessions per simulation (default 8)
        --runs N           agent runs per session (default 3)
        --faults PRESET    start from `none` (default) or `mixed` (\(FaultSettings.mixed)); the options below
                           override single settings
        --drop P, --duplicate P, --reorder P, --disconnect P, --client-restart P, --snapshot-restart P,
        --server-bye P, --resume-storm P, --hostile P
                           probabilities per frame, 0…1
        --server-crash P   probability that the server process dies after each write to its store, before acting
                           on it; a new one recovers the sessions from the store (the server writes ahead when P > 0)
        --store-faults P   probability that each append to the store fails, succeeds but reports failure (outcome
                           unknown), stalls 0.5-5 s, or meets a store restart (down 1-5 s); the server retries the
                           same batch and sends nothing that depends on it meanwhile (writes ahead when P > 0)
        --delay-ms A..B    one-way delay of each frame (default 1..5)
        --trace            print every frame and connection change with its virtual time (ms)
        """

    static func run(_ arguments: [String]) -> Int32 {
        let options: Options
        do {
            options = try Options(arguments)
        } catch {
            return Output.usageError("simulate", error.message, help: help)
        }
        var totals = Totals()
        for seed in options.seeds {
            var simulation = Simulation(
                seed: seed, scenario: options.scenario, faults: options.faults, tracing: options.trace)
            let result = simulation.run()
            for line in result.trace ?? [] { print(line) }
            totals.add(result)
            if !options.quiet || !result.violations.isEmpty { print(result.summary) }
            if !result.violations.isEmpty {
                for violation in result.violations.prefix(20) { print("  violation: \(violation)") }
                if result.violations.count > 20 { print("  … and \(result.violations.count - 20) more") }
                print(
                    "  replay: "
                        + result.replayCommand(
                            sessions: options.scenario.sessions, runs: options.scenario.runsPerSession))
            }
        }
        print(totals.text)
        return totals.violations == 0 ? 0 : 1
    }

    struct UsageError: Error {
        var message: String
    }

    struct Options {
        var seeds: ClosedRange<UInt64> = 1...1
        var scenario = SimulationScenario()
        var faults = FaultSettings.none
        var quiet = false
        var trace = false

        init(_ arguments: [String]) throws(UsageError) {
            var overrides: [(inout FaultSettings) -> Void] = []
            var index = 0
            func value(_ option: String) throws(UsageError) -> String {
                index += 1
                guard index < arguments.count else { throw UsageError(message: "\(option) needs a value") }
                return arguments[index]
            }
            func probability(_ option: String) throws(UsageError) -> Double {
                let text = try value(option)
                guard let p = Double(text), p >= 0, p <= 1 else {
                    throw UsageError(message: "\(option) takes a probability in 0…1, not '\(text)'")
                }
                return p
            }
            while index < arguments.count {
                let option = arguments[index]
                switch option {
                case "--seed":
                    let seed = try Self.number(try value(option), option)
                    seeds = seed...seed
                case "--seeds": seeds = try Self.range(try value(option), option)
                case "--sessions": scenario.sessions = Int(try Self.number(try value(option), option, max: 10_000))
                case "--runs": scenario.runsPerSession = Int(try Self.number(try value(option), option, max: 10_000))
                case "--faults":
                    switch try value(option) {
                    case "none": faults = .none
                    case "mixed": faults = .mixed
                    case let other: throw UsageError(message: "unknown fault preset '\(other)'")
                    }
                case _ where Self.probabilitySetting(option) != nil:
                    let (p, setting) = (try probability(option), Self.probabilitySetting(option)!)
                    overrides.append { $0[keyPath: setting] = p }
                case "--delay-ms":
                    let delay = try Self.range(try value(option), option)
                    guard delay.upperBound <= 60_000 else { throw UsageError(message: "--delay-ms is at most 60000") }
                    overrides.append { $0.delayMs = delay }
                case "--quiet": quiet = true
                case "--trace": trace = true
                default: throw UsageError(message: "unknown option '\(option)'")
                }
                index += 1
            }
            for override in overrides { override(&faults) }
        }

        /// The per-frame fault probability an option sets.
        static func probabilitySetting(_ option: String) -> WritableKeyPath<FaultSettings, Double>? {
            switch option {
            case "--drop": \.drop
            case "--duplicate": \.duplicate
            case "--reorder": \.reorder
            case "--disconnect": \.disconnect
            case "--client-restart": \.clientRestart
            case "--snapshot-restart": \.snapshotRestart
            case "--server-bye": \.serverBye
            case "--resume-storm": \.resumeStorm
            case "--hostile": \.hostile
            case "--server-crash": \.serverCrash
            case "--store-faults": \.storeFaults
            default: nil
            }
        }

        static func number(_ text: String, _ option: String, max: UInt64 = .max) throws(UsageError) -> UInt64 {
            guard let number = UInt64(text), number <= max else {
                throw UsageError(message: "\(option) takes a whole number up to \(max), not '\(text)'")
            }
            return number
        }

        static func range(_ text: String, _ option: String) throws(UsageError) -> ClosedRange<UInt64> {
            let parts = text.split(separator: ".", omittingEmptySubsequences: false)
            guard parts.count == 3, parts[1].isEmpty, let low = UInt64(parts[0]), let high = UInt64(parts[2]),
                low <= high
            else { throw UsageError(message: "\(option) takes A..B with A ≤ B, not '\(text)'") }
            return low...high
        }
    }

    /// Sums over seeds.
    struct Totals {
        var seeds = 0
        var failingSeeds: [UInt64] = []
        var violations = 0
        var abandonedRuns = 0
        var failedDespiteUser: [String: Int] = [:]
        var failedWithRestartedClient: [String: Int] = [:]
        var failedInResumeStorm: [String: Int] = [:]
        var faults = FaultCounts()
        var report = ConfirmationReport(
            generatedAt: 0, overall: ConfirmationStats(), runVerdicts: [:], sessions: [], runs: [])

        mutating func add(_ result: SimulationResult) {
            seeds += 1
            violations += result.violations.count
            if !result.violations.isEmpty { failingSeeds.append(result.seed) }
            abandonedRuns += result.abandonedRuns
            failedDespiteUser.merge(result.failedDespiteUser, uniquingKeysWith: +)
            failedWithRestartedClient.merge(result.failedWithRestartedClient, uniquingKeysWith: +)
            failedInResumeStorm.merge(result.failedInResumeStorm, uniquingKeysWith: +)
            faults.add(result.faultCounts)
            var figures = result.report
            figures.sessions = []
            figures.runs = []
            report.merge(figures)
        }

        static func tally(_ counts: [String: Int]) -> String {
            let parts = counts.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }
            return "\(counts.values.reduce(0, +))" + (parts.isEmpty ? "" : " (" + parts.joined(separator: ", ") + ")")
        }

        var text: String {
            let overall = report.overall
            var lines = ["", "totals over \(seeds) seeds:"]
            lines.append("  events \(overall.events)")
            lines.append(
                "  confirmed at their level: receipt \(overall.receipt.confirmedAtRequestedLevel), display "
                    + "\(overall.display.confirmedAtRequestedLevel), value \(overall.value.confirmedAtRequestedLevel)")
            let reasons = overall.failuresByReason.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }
            lines.append("  failed \(overall.failed)" + (reasons.isEmpty ? "" : ": " + reasons.joined(separator: ", ")))
            lines.append("  failed with a restarted client: " + Self.tally(failedWithRestartedClient))
            lines.append("  failed in a resume storm (attempt limit, EA-RTX-4): " + Self.tally(failedInResumeStorm))
            lines.append("  failed although the user confirmed: " + Self.tally(failedDespiteUser))
            lines.append("  retransmissions \(overall.retransmissions), duplicates absorbed \(overall.duplicates)")
            lines.append(
                "  faults: dropped \(faults.dropped), duplicated \(faults.duplicated), reordered \(faults.reordered), "
                    + "cuts \(faults.disconnects), restarts \(faults.restarts), snapshot restarts "
                    + "\(faults.snapshotRestarts), server byes \(faults.serverByes), resume storms "
                    + "\(faults.resumeStorms), hostile frames \(faults.hostileFrames), server crashes \(faults.serverCrashes); "
                    + "runs abandoned \(abandonedRuns)")
            let store =
                "  store faults: failed \(faults.storeFailures), ambiguous \(faults.storeAmbiguous), "
                + "stalled \(faults.storeStalls), restarts \(faults.storeRestarts)"
            lines.append(store)
            lines.append(
                "  invariant violations \(violations)"
                    + (failingSeeds.isEmpty
                        ? "" : " in seeds " + failingSeeds.prefix(20).map(String.init).joined(separator: ", ")))
            lines.append("")
            lines.append("merged report:")
            return lines.joined(separator: "\n") + "\n" + report.text
        }
    }
}
