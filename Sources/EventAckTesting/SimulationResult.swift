import EventAckProtocol
import EventAckReconciler

/// What one simulation did and whether the protocol's promises held.
public struct SimulationResult: Sendable {
    /// The seed it ran with.
    public var seed: UInt64
    /// The faults it ran with.
    public var faults: FaultSettings
    /// Virtual time from start to quiescence, in milliseconds.
    public var virtualMs: UInt64
    /// The reconciler's report at the end.
    public var report: ConfirmationReport
    /// How often each fault happened.
    public var faultCounts: FaultCounts
    /// Agent steps that found their session gone (its client restarted and it expired).
    public var abandonedRuns: Int
    /// Events that failed although their user confirmed them (or they asked only for receipt), by reason, not
    /// counting sessions whose client restarted: what the faults of the network cost.
    public var failedDespiteUser: [String: Int]
    /// Events of sessions whose client process restarted (losing its memory) that failed, by reason.
    public var failedWithRestartedClient: [String: Int]
    /// Events of sessions that went through a resume storm and failed, by reason: a storm may exhaust an event's
    /// attempts by design (EA-RTX-4).
    public var failedInResumeStorm: [String: Int]
    /// Every frame and connection change, when the simulation was traced.
    public var trace: [String]?
    /// Broken promises, in words; empty when every invariant held.
    public var violations: [String]

    /// One line for a log: seed, events, confirmations per level, failures, retransmissions, faults, violations.
    public var summary: String {
        let overall = report.overall
        return "seed \(seed): events \(overall.events)"
            + " confirmed r/d/v \(overall.receipt.confirmedAtRequestedLevel)/\(overall.display.confirmedAtRequestedLevel)/\(overall.value.confirmedAtRequestedLevel)"
            + " failed \(overall.failed) (despite the user \(failedDespiteUser.values.reduce(0, +)))"
            + " retransmitted \(overall.retransmissions)"
            + " dropped \(faultCounts.dropped) duplicated \(faultCounts.duplicated) reordered \(faultCounts.reordered)"
            + " cuts \(faultCounts.disconnects) restarts \(faultCounts.restarts)"
            + " virtual \(virtualMs / 1000) s violations \(violations.count)"
    }

    /// The command that replays this run exactly (with the default scenario sizes unless given).
    public func replayCommand(sessions: Int, runs: Int) -> String {
        "eventack simulate --seed \(seed) --sessions \(sessions) --runs \(runs) \(faults)"
    }
}

extension Simulation {
    mutating func finish() -> SimulationResult {
        var liveSessions: [String: Seq] = [:]
        for client in clients {
            guard let session = client.machine.sessionID else { continue }
            liveSessions[session] = ledger.clientSessions[session]?.lastDelivered ?? 0
        }
        let report = server.report(now: now)
        var failedDespiteUser: [String: Int] = [:]
        var failedWithRestartedClient: [String: Int] = [:]
        var failedInResumeStorm: [String: Int] = [:]
        for emission in ledger.emissions {
            guard case .failed(let level, let reason) = emission.outcome else { continue }
            if ledger.orphanedSessions.contains(emission.session.rawValue) {
                failedWithRestartedClient[reason.rawValue, default: 0] += 1
            } else if ledger.stormedSessions.contains(emission.session.rawValue) {
                failedInResumeStorm[reason.rawValue, default: 0] += 1
            } else if emission.intent == .none || emission.intent == .confirm {
                failedDespiteUser[reason.rawValue, default: 0] += 1
                log(
                    "failed although the user confirmed: seq \(emission.seq) of \(emission.session) at \(level) (\(reason))"
                )
            }
        }
        // With crashes, a node's report covers only what it served since it started: the figures to check are the
        // cross-node ones, summed from the verdicts of every run in the store (each recorded exactly once).
        var checked = report
        var verdictViolations: [String] = []
        if faults.writesAhead {
            checked.overall = ConfirmationStats()
            checked.runVerdicts = [:]
            // Invariant: each (session, run) has at most one verdict in the store, the cross-node report's source —
            // and the store never had to refuse one (the reconciler gave none twice).
            var verdicts: Set<String> = []
            for run in store.storage.finishedRuns
            where !verdicts.insert(SimulationLedger.runKey(run.session, run.run)).inserted {
                verdictViolations.append("store: run \(run.run) of session \(run.session) has two verdicts")
            }
            if store.storage.refusedVerdicts > 0 {
                verdictViolations.append("store: refused \(store.storage.refusedVerdicts) second verdicts")
            }
            for run in store.storage.finishedRuns {
                checked.overall.merge(run.stats)
                checked.runVerdicts[run.verdict.rawValue, default: 0] += 1
            }
        }
        let checker = InvariantChecker(
            ledger: ledger, report: checked, faults: faults, liveSessions: liveSessions,
            countsRetransmissions: faults.serverCrash == 0)
        return SimulationResult(
            seed: seed, faults: faults, virtualMs: now - Simulation.startMs, report: report, faultCounts: counts,
            abandonedRuns: ledger.abandonedEmits, failedDespiteUser: failedDespiteUser,
            failedWithRestartedClient: failedWithRestartedClient, failedInResumeStorm: failedInResumeStorm,
            trace: trace,
            violations: ledger.violations + verdictViolations + checker.violations())
    }
}
