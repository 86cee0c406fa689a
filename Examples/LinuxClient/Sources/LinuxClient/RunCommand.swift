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

    @Option(help: "Also wait for this many runs that someone else starts in the session (a publisher).")
    var awaitRuns = 0

    @Option(help: "Keep the session here (and the runs in PATH.runs) so that a restarted process resumes it.")
    var stateFile: String?

    func run() async throws {
        var scenarios = runs.split(separator: ",").map { String($0) }
        let (transport, failover) = makeTransport()
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
        // What the earlier process delivered but its user never confirmed: the app shows it again.
        for pending in await client.outstanding() {
            await Self.actAsUser(on: pending.seq, needs: pending.needs, client: client, reject: reject)
        }
        let expected = (restored == nil ? scenarios.count : known.started.count - known.adopted) + awaitRuns
        let ledger = RunLedgerBox(known, expected: expected)
        let session = RunSession(
            client: client, server: server, ledger: ledger, store: store, failover: failover, quiet: quiet,
            reject: reject, abandonStalled: abandonStalled, awaitRuns: awaitRuns)
        let events = Task { await session.consumeEvents() }
        let starting = scenarios
        let signals = Task { await session.followSignals(starting: starting, allEnded: { events.cancel() }) }

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
        Console.line(
            "summary: \(ended) of \(ledger.expected) runs ended, \(endedByReset.count) of them by a session reset")
        let deliveries = session.delivered.summary(started: ledger.startedRuns, complete: restored == nil)
        Console.line(deliveries.line)
        if ended < ledger.expected || !report.isComplete || !endedByReset.isEmpty || !deliveries.clean {
            throw ExitCode(1)
        }
        store?.remove()
    }
}

extension RunCommand {
    /// One node's transport, or a failover over several; cut as `--cut-after` says.
    func makeTransport() -> (any ClientTransport, FailoverTransport?) {
        let nodes = server.urls.map { server.transport(to: $0) }
        let failover = nodes.count == 1 ? nil : FailoverTransport(nodes)
        var transport: any ClientTransport = failover ?? nodes[0]
        if let cutAfter { transport = CuttingTransport(base: transport, afterFrames: cutAfter, times: cuts) }
        return (transport, failover)
    }

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
