import EventAckProtocol
import EventAckReconciler
import Testing

@testable import EventAckTesting

/// The simulator holds the protocol to its promises, replays exactly, and notices when they are broken.
@Suite("Simulation")
struct SimulationTests {
    @Test(
        "a perfect network: every invariant holds, nothing is retransmitted", arguments: 1...10 as ClosedRange<UInt64>)
    func faultFree(seed: UInt64) {
        var simulation = Simulation(seed: seed)
        let result = simulation.run()
        #expect(result.violations == [], "\(result.replayCommand(sessions: 8, runs: 3))")
        #expect(result.report.overall.events > 0)
        #expect(result.report.overall.retransmissions == 0)
        #expect(result.report.overall.pending == 0)
    }

    @Test("mixed faults: every invariant holds", arguments: 1...20 as ClosedRange<UInt64>)
    func mixedFaults(seed: UInt64) {
        var simulation = Simulation(seed: seed, faults: .mixed)
        let result = simulation.run()
        #expect(result.violations == [], "\(result.replayCommand(sessions: 8, runs: 3))")
        #expect(result.report.overall.pending == 0)
    }

    @Test("without client restarts, no event the user confirmed fails, whatever the network does")
    func networkFaultsLoseNoConfirmation() {
        // The regression test of two fixes found by the simulator: the resume-token grace (EA-RES-3) and the resend
        // of unechoed confirmations (EA-SYNC-4).
        var faults = FaultSettings.mixed
        faults.clientRestart = 0
        faults.drop = 0.05
        var failed: [String: Int] = [:]
        var retransmissions: UInt64 = 0
        for seed in UInt64(1)...30 {
            var simulation = Simulation(seed: seed, faults: faults)
            let result = simulation.run()
            #expect(result.violations == [])
            failed.merge(result.failedDespiteUser, uniquingKeysWith: +)
            retransmissions += result.report.overall.retransmissions
        }
        #expect(failed == [:])
        #expect(retransmissions > 0, "the faults were real")
    }

    @Test(
        "server byes, snapshot restarts, resume storms and a hostile peer: every invariant holds (EA-BYE-3, EA-RTX-4)")
    func peerFaults() {
        let faults = FaultSettings(
            drop: 0.01, delayMs: 1...40, snapshotRestart: 0.01, serverBye: 0.003, resumeStorm: 0.003, hostile: 0.02)
        var counts = FaultCounts()
        var failedDespiteUser: [String: Int] = [:]
        for seed in UInt64(1)...20 {
            var simulation = Simulation(seed: seed, faults: faults)
            let result = simulation.run()
            #expect(result.violations == [], "\(result.replayCommand(sessions: 8, runs: 3))")
            #expect(result.report.overall.pending == 0)
            counts.add(result.faultCounts)
            failedDespiteUser.merge(result.failedDespiteUser, uniquingKeysWith: +)
        }
        #expect(counts.snapshotRestarts > 0 && counts.serverByes > 0 && counts.resumeStorms > 0)
        #expect(counts.hostileFrames > 0)
        // A restart from a snapshot and a server bye are resumed: they cost nothing the user confirmed.
        #expect(failedDespiteUser == [:])
    }

    @Test("the same seed replays exactly; another seed does not")
    func deterministic() {
        var first = Simulation(seed: 7, faults: .mixed, tracing: true)
        var second = Simulation(seed: 7, faults: .mixed, tracing: true)
        var other = Simulation(seed: 8, faults: .mixed, tracing: true)
        let (a, b, c) = (first.run(), second.run(), other.run())
        #expect(a.trace == b.trace)
        #expect(a.report == b.report)
        #expect(a.summary == b.summary)
        #expect(a.trace != c.trace)
    }

    @Test("faults happen at their configured rates")
    func faultsHappen() {
        var simulation = Simulation(seed: 3, scenario: SimulationScenario(sessions: 12), faults: .mixed)
        let counts = simulation.run().faultCounts
        #expect(counts.dropped > 0)
        #expect(counts.duplicated > 0)
        #expect(counts.reordered > 0)
        #expect(counts.disconnects > 0)
    }

    @Test("an event that can never settle is reported as a violation (invariant 1)")
    func unsettledIsCaught() {
        var scenario = SimulationScenario(sessions: 2, runsPerSession: 1, neverConfirmProbability: 1)
        scenario.reconciler.displayDeadline = nil
        scenario.reconciler.valueDeadline = nil
        scenario.limitMs = 600_000
        var simulation = Simulation(seed: 1, scenario: scenario)
        let result = simulation.run()
        #expect(result.violations.contains { $0.contains("was never settled") })
        #expect(result.violations.contains { $0.contains("report says") && $0.contains("pending") })
    }

    @Test("an outcome other than the users' behaviour on a perfect network is a violation (invariant 5)")
    func unexpectedOutcomeIsCaught() {
        var scenario = SimulationScenario(sessions: 2, runsPerSession: 2, displayDelayMs: 3_000...4_000)
        // Display fails before any user gets to it.
        scenario.reconciler.displayDeadline = LevelDeadline(overdueAfterMs: 1_000, failAfterMs: 2_000)
        var simulation = Simulation(seed: 1, scenario: scenario)
        let result = simulation.run()
        #expect(result.violations.contains { $0.contains("expected confirmed") })
    }
}
