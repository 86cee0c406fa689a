import EventAckClient
import EventAckProtocol
import Foundation

/// What `eventack-client run` does once its client is up: plays the user on every event, follows the signals,
/// starts the runs once the first session is open, and counts runs ended — each part a method of its own, shared by
/// the two tasks that read the client's events and signals.
final class RunSession: Sendable {
    let client: EventAckClient
    let server: ServerOptions
    let ledger: RunLedgerBox
    let delivered = DeliveryCheck()
    let store: StateStore?
    let failover: FailoverTransport?
    let quiet: Bool
    let reject: Bool
    let abandonStalled: Bool
    /// Runs someone else starts in the session that this client also waits for (`--await-runs`).
    let awaitRuns: Int

    init(
        client: EventAckClient, server: ServerOptions, ledger: RunLedgerBox, store: StateStore?,
        failover: FailoverTransport?, quiet: Bool, reject: Bool, abandonStalled: Bool, awaitRuns: Int
    ) {
        (self.client, self.server, self.ledger, self.store, self.failover) = (client, server, ledger, store, failover)
        (self.quiet, self.reject, self.abandonStalled, self.awaitRuns) = (quiet, reject, abandonStalled, awaitRuns)
    }

    /// Events: display what asks for it, value (or reject) the answers; returns once every run has ended, with the
    /// number that did.
    func consumeEvents() async -> Int {
        if ledger.ended.count >= ledger.expected { return ledger.ended.count }
        for await delivery in client.events {
            let event = delivery.event
            delivered.note(event)
            if awaitRuns > 0, let runs = ledger.adopt(event.run, awaited: awaitRuns) {
                store?.saveRuns(runs)
                Console.line("adopted: \(event.run)")
            }
            if !quiet {
                Console.line(
                    "event \(event.seq) \(event.run) \(event.kind) [\(event.confirm.rawValue)] \(event.payload)")
            }
            await RunCommand.actAsUser(on: event.seq, needs: event.confirm, client: client, reject: reject)
            // Protocol 1.1 marks a run's last event, whatever the run profile's vocabulary (EA-EVT-7).
            if event.endsRun, ended([event.run]) { break }
        }
        return ledger.ended.count
    }

    /// Signals: prints them, starts `scenarios` once the first session is open, ends the runs a reset names (and,
    /// with `--abandon-stalled`, stalled ones); calls `allEnded` when no run is left. Returns the runs ended by a
    /// session reset.
    func followSignals(starting scenarios: [String], allEnded: @Sendable () -> Void) async -> [String] {
        var started = false
        var endedByReset: [String] = []
        for await signal in client.signals {
            Console.line("signal: \(DisplayText.escaping(String(describing: signal)))")
            switch signal {
            case .connected(let session, let resumed):
                // For the cluster scripts' failover times: when, and through which node (its index in --url).
                let ms = UInt64(Date().timeIntervalSince1970 * 1000)
                Console.line(
                    "connected at \(ms) node \(failover?.currentIndex ?? 0) session \(session) resumed \(resumed)")
                if !resumed, !started {
                    started = true
                    if await start(scenarios, in: session) { allEnded() }
                }
            case .sessionReset(let reset) where !reset.endedRuns.isEmpty:
                // The server lost the session (a restart without durable state): these runs cannot end.
                Console.line("runs ended by the reset (\(reset.reason)): \(reset.endedRuns.joined(separator: ", "))")
                endedByReset += reset.endedRuns
                if ended(reset.endedRuns) { allEnded() }
            case .runStalled(let run, _) where abandonStalled && !ledger.isEnded(run):
                Console.line("abandoned: \(run)")
                if ended([run]) { allEnded() }
            default:
                break
            }
        }
        return endedByReset
    }

    /// Starts `scenarios` in `session`; returns whether no run is left to wait for (none could be started).
    private func start(_ scenarios: [String], in session: String) async -> Bool {
        for scenario in scenarios {
            do {
                let body = try await server.post("/runs", ["session": session, "scenario": scenario])
                let run = try JSONDecoder().decode([String: String].self, from: body)["run"] ?? "?"
                let runs = ledger.started(run)  // not inside `store?.…`: that skips it without a store
                store?.saveRuns(runs)
                let ms = UInt64(Date().timeIntervalSince1970 * 1000)
                Console.line("started: \(String(decoding: body, as: UTF8.self)) at \(ms)")
            } catch {
                // Not waited for. (Not retried either: a start whose answer was lost may have started a run, and a
                // retry would start a second.)
                Console.line("could not start \(scenario): \(error)")
                ledger.couldNotStart()
            }
        }
        return ledger.ended.count >= ledger.expected
    }

    /// Marks `runs` ended (and saves the ledger); returns whether every run has ended.
    private func ended(_ runs: [String]) -> Bool {
        guard !runs.isEmpty else { return ledger.ended.count >= ledger.expected }
        var ledgerNow = RunLedger()
        for run in runs { ledgerNow = ledger.ended(run) }
        store?.saveRuns(ledgerNow)
        return ledgerNow.ended.count >= ledger.expected
    }
}
