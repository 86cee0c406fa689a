import EventAckProtocol
import EventAckReconciler

/// The promises of the protocol, checked after a simulation against the simulator's own ledger:
///
/// 1. every emitted event ends confirmed at its level or failed with a reason;
/// 2. no event is confirmed at a level its client did not confirm (checked as confirmations arrive);
/// 3. each client delivered each seq of its session exactly once, in order, and none of another session's
///    (checked as deliveries happen; here: nothing confirmed is missing from a live session);
/// 4. the report's counts agree with the simulator's tally;
/// 5. with no faults, every run ends as its users' behaviour says, nothing is retransmitted and no frame is
///    invalid.
struct InvariantChecker {
    let ledger: SimulationLedger
    let report: ConfirmationReport
    let faults: FaultSettings
    /// The sessions of client processes still alive, with their last delivered seq.
    let liveSessions: [String: Seq]
    /// Whether the report counts every retransmission (not with crashes: attempts are not recorded, § 15).
    var countsRetransmissions = true

    func violations() -> [String] {
        var found: [String] = []
        checkSettled(&found)
        checkDeliveredToLiveSessions(&found)
        checkReportAgrees(&found)
        if !faults.hasFaults { checkFaultFree(&found) }
        return found
    }

    /// Invariant 1.
    private func checkSettled(_ found: inout [String]) {
        for emission in ledger.emissions where emission.outcome == nil {
            found.append("seq \(emission.seq) of session \(emission.session) (\(emission.run)) was never settled")
        }
        for (name, run) in ledger.runs where run.verdict == nil {
            found.append("run \(name) of session \(run.session) never finished")
        }
    }

    /// Invariant 3, completeness: an event confirmed in a session its client still holds was delivered there.
    private func checkDeliveredToLiveSessions(_ found: inout [String]) {
        for emission in ledger.emissions where emission.outcome == .confirmed {
            guard let lastDelivered = liveSessions[emission.session.rawValue] else { continue }
            if emission.seq > lastDelivered {
                found.append("seq \(emission.seq) of session \(emission.session) was confirmed but never delivered")
            }
        }
    }

    /// Invariant 4.
    private func checkReportAgrees(_ found: inout [String]) {
        let overall = report.overall
        func expect(_ what: String, _ reported: UInt64, _ tallied: Int) {
            if reported != UInt64(tallied) {
                found.append("report says \(reported) \(what), the simulator counted \(tallied)")
            }
        }
        expect("events", overall.events, ledger.emissions.count)
        for level in ConfirmationLevel.allCases {
            expect(
                "\(level.rawValue) requested", overall[level].requested, ledger.emissions.count { $0.level >= level })
            expect(
                "confirmed at \(level.rawValue)", overall[level].confirmedAtRequestedLevel,
                ledger.emissions.count { $0.level == level && $0.outcome == .confirmed })
        }
        var failures: [String: Int] = [:]
        for emission in ledger.emissions {
            if case .failed(_, let reason) = emission.outcome { failures[reason.rawValue, default: 0] += 1 }
        }
        for reason in Set(failures.keys).union(overall.failuresByReason.keys).sorted() {
            expect("failed with \(reason)", overall.failuresByReason[reason] ?? 0, failures[reason] ?? 0)
        }
        expect("pending", overall.pending, 0)
        if countsRetransmissions {
            expect("retransmissions", overall.retransmissions, Int(ledger.retransmittedFrames))
        }
        var verdicts: [String: Int] = [:]
        for run in ledger.runs.values { verdicts[run.verdict?.rawValue ?? "unfinished", default: 0] += 1 }
        for verdict in Set(verdicts.keys).union(report.runVerdicts.keys).sorted() {
            expect("runs \(verdict)", report.runVerdicts[verdict] ?? 0, verdicts[verdict] ?? 0)
        }
    }

    /// Invariant 5: on a perfect network the outcome of every event is what its user did.
    private func checkFaultFree(_ found: inout [String]) {
        if report.overall.retransmissions > 0 {
            found.append("\(report.overall.retransmissions) retransmissions without a fault")
        }
        if ledger.protocolErrors > 0 { found.append("\(ledger.protocolErrors) protocol errors without a fault") }
        var expectedVerdict: [String: RunVerdict] = [:]
        for emission in ledger.emissions {
            let expected: SimulationLedger.Outcome =
                switch emission.intent {
                case .none, .confirm: .confirmed
                case .never: .failed(.display, .displayTimeout)
                case .reject(let level): .failed(level, FailureReason(UserIntent.rejectionReason(at: level)))
                }
            if emission.outcome != expected {
                found.append(
                    "seq \(emission.seq) of session \(emission.session): \(emission.outcome.map { "\($0)" } ?? "unsettled"), expected \(expected)"
                )
            }
            if expected != .confirmed {
                expectedVerdict[SimulationLedger.runKey(emission.session, emission.run)] = .failed
            }
        }
        for (name, run) in ledger.runs where run.verdict != (expectedVerdict[name] ?? .confirmed) {
            found.append(
                "run \(name): \(run.verdict?.rawValue ?? "unfinished"), expected \((expectedVerdict[name] ?? .confirmed).rawValue)"
            )
        }
    }
}
