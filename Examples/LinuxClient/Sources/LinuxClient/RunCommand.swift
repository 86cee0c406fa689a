import ArgumentParser
import EventAckClient
import EventAckProtocol
import Foundation

/// Starts runs and plays the user: displays every event that asks for it, confirms or rejects value.
struct RunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run", abstract: "Start agent runs and confirm their events (the default).")

    @OptionGroup var server: ServerOptions

    @Option(help: "Scenarios to start, comma-separated: quick, complex, tool_error.")
    var runs = "quick"

    @Flag(help: "Reject the value of completed runs instead of confirming it.")
    var reject = false

    @Option(help: "Cut the connection (no close handshake) after this many frames, to show resume.")
    var cutAfter: Int?

    @Option(help: "How many connections --cut-after cuts.")
    var cuts = 1

    @Option(help: "Give up (exit 1) after this many seconds.")
    var timeout: Double = 300

    @Flag(help: "Print only signals and the summary, not every event.")
    var quiet = false

    @Flag(
        help: """
            Count a run that stalls (no event or progress for the run idle timeout) as ended, abandoned: its agent died \
            with its node (cluster-chaos.sh). Printed as `abandoned: RUN`.
            """)
    var abandonStalled = false

    @Option(help: "The run idle timeout in seconds: a run silent this long is reported stalled.")
    var runIdleTimeout: Double = 60

    @Option(help: "Keep the session here (and the runs in PATH.runs) so that a restarted process resumes it.")
    var stateFile: String?

    func run() async throws {
        var scenarios = runs.split(separator: ",").map { String($0) }
        let nodes = self.server.urls.map { self.server.transport(to: $0) }
        let failover = nodes.count == 1 ? nil : FailoverTransport(nodes)
        var transport: any ClientTransport = failover ?? nodes[0]
        if let cutAfter { transport = CuttingTransport(base: transport, afterFrames: cutAfter, times: cuts) }
        let store = stateFile.map(StateStore.init)
        let restored = store?.loadSnapshot()
        let known = store?.loadRuns() ?? RunLedger()
        if restored != nil {
            // A restart: resume the session and wait for the runs the earlier process started.
            scenarios = []
            Console.line("resuming session \(restored!.session) with \(known.started.count) runs")
        }
        var persist: (@Sendable (ClientStateMachine.Snapshot?) -> Void)?
        if let store { persist = { snapshot in store.save(snapshot) } }
        var configuration = ClientConfiguration()
        configuration.runIdleTimeoutMs = UInt64(max(1, runIdleTimeout * 1000))
        let client = EventAckClient(
            transport: transport, configuration: configuration, reconnect: ReconnectPolicy(baseMs: 200, capMs: 5_000),
            restoring: restored,
            persist: persist)
        await client.start()
        let server = self.server
        let quiet = self.quiet
        let reject = self.reject
        let abandonStalled = self.abandonStalled

        // What the earlier process delivered but its user never confirmed: the app shows it again.
        for pending in await client.outstanding() {
            await Self.actAsUser(on: pending.seq, needs: pending.needs, client: client, reject: reject)
        }

        // Events: display what asks for it; value (or reject) the answers; stop when every run has ended.
        let ledger = RunLedgerBox(known, expected: restored == nil ? scenarios.count : known.started.count)
        let delivered = DeliveryCheck()
        let events = Task { () -> Int in
            if known.ended.count >= ledger.expected { return known.ended.count }
            for await delivery in client.events {
                let event = delivery.event
                delivered.note(event)
                if !quiet {
                    Console.line(
                        "event \(event.seq) \(event.run) \(event.kind) [\(event.confirm.rawValue)] \(event.payload)")
                }
                await Self.actAsUser(on: event.seq, needs: event.confirm, client: client, reject: reject)
                // Protocol 1.1 marks a run's last event, whatever the run profile's vocabulary (EA-EVT-7).
                if event.endsRun {
                    let runs = ledger.ended(event.run)
                    store?.saveRuns(runs)
                    if runs.ended.count >= ledger.expected { break }
                }
            }
            return ledger.ended.count
        }

        // Signals: print them; start the runs once the first session is open; a reset ends the runs it names.
        let signals = Task { () -> [String] in
            var started = false
            var endedByReset: [String] = []
            for await signal in client.signals {
                Console.line("signal: \(DisplayText.escaping(String(describing: signal)))")
                if case .connected(let session, let resumed) = signal {
                    // For cluster.sh's failover times: when, and through which node (its index in --url).
                    let ms = UInt64(Date().timeIntervalSince1970 * 1000)
                    Console.line(
                        "connected at \(ms) node \(failover?.currentIndex ?? 0) session \(session) resumed \(resumed)")
                }
                if case .sessionReset(let reset) = signal, !reset.endedRuns.isEmpty {
                    // The server lost the session (a restart without durable state): these runs cannot end.
                    Console.line(
                        "runs ended by the reset (\(reset.reason)): \(reset.endedRuns.joined(separator: ", "))")
                    endedByReset += reset.endedRuns
                    var runs = known
                    for run in reset.endedRuns { runs = ledger.ended(run) }
                    store?.saveRuns(runs)
                    if runs.ended.count >= ledger.expected { events.cancel() }
                }
                if abandonStalled, case .runStalled(let run, _) = signal, !ledger.isEnded(run) {
                    Console.line("abandoned: \(run)")
                    let runs = ledger.ended(run)
                    store?.saveRuns(runs)
                    if runs.ended.count >= ledger.expected { events.cancel() }
                }
                if case .connected(let session, false) = signal, !started {
                    started = true
                    for scenario in scenarios {
                        do {
                            let body = try await server.post("/runs", ["session": session, "scenario": scenario])
                            let run = try JSONDecoder().decode([String: String].self, from: body)["run"] ?? "?"
                            let runs = ledger.started(run)
                            store?.saveRuns(runs)
                            let ms = UInt64(Date().timeIntervalSince1970 * 1000)
                            Console.line("started: \(String(decoding: body, as: UTF8.self)) at \(ms)")
                        } catch {
                            // Not waited for. (Not retried either: a start whose answer was lost may have started
                            // a run, and a retry would start a second.)
                            Console.line("could not start \(scenario): \(error)")
                            ledger.couldNotStart()
                            if ledger.ended.count >= ledger.expected { events.cancel() }
                        }
                    }
                }
            }
            return endedByReset
        }

        let deadline = Task {
            try await Task.sleep(for: .seconds(timeout))
            Console.line("timed out after \(timeout) s")
            events.cancel()
        }
        let ended = await events.value
        deadline.cancel()
        Console.line("finished at \(UInt64(Date().timeIntervalSince1970 * 1000))")
        // close() returns once the server's synced covers every confirmation (EA-BYE-2), or says what it lacks.
        let report = await client.close()
        let endedByReset = await signals.value
        if report.isComplete {
            Console.line("close: the server confirmed having every receipt, confirmation and nack")
        } else {
            Console.line(
                "close: NOT confirmed by the server: confirmations \(report.unsynced), receipts "
                    + "\(report.unechoedReceipts), waiting for the user \(report.outstanding.map(\.seq))")
        }
        let expected = ledger.expected
        Console.line("summary: \(ended) of \(expected) runs ended, \(endedByReset.count) of them by a session reset")
        let deliveries = delivered.summary(started: ledger.startedRuns, complete: restored == nil)
        Console.line(deliveries.line)
        if ended < expected || !report.isComplete || !endedByReset.isEmpty || !deliveries.clean { throw ExitCode(1) }
        store?.remove()
    }
}

extension RunCommand {
    /// The user: sees every event that asks for display, then values the answers (or rejects them with
    /// `--reject`). Used for fresh deliveries and for what a restarted process finds still outstanding.
    static func actAsUser(on seq: Seq, needs: ConfirmationLevel, client: EventAckClient, reject: Bool) async {
        do {
            if needs >= .display { try await client.markDisplayed(seq) }
            if needs == .value {
                if reject {
                    try await client.reject(seq, level: .value, reason: .rejected, detail: "--reject")
                } else {
                    try await client.confirmValue(seq, signal: "helpful", score: 1)
                }
            }
        } catch {
            Console.line("could not confirm seq \(seq): \(error)")
        }
    }
}

/// Unbuffered lines on standard output, so that scripts and people see them at once.
enum Console {
    static func line(_ text: String) {
        var bytes = Array((text.hasSuffix("\n") ? text : text + "\n").utf8)
        _ = bytes.withUnsafeMutableBytes { write(1, $0.baseAddress, $0.count) }
    }
}
