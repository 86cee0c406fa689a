import EventAckClient
import EventAckProtocol
import Foundation
import Synchronization

/// The runs this client started and saw end: app state, kept next to the SDK's snapshot.
struct RunLedger: Codable, Sendable {
    var started: [String] = []
    var ended: [String] = []
    /// Of `started`, the runs someone else started (`--await-runs`).
    var adopted = 0

    init() {}

    init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        started = try container.decode([String].self, forKey: .started)
        ended = try container.decode([String].self, forKey: .ended)
        adopted = try container.decodeIfPresent(Int.self, forKey: .adopted) ?? 0
    }
}

/// The ledger, shared by the tasks that start runs and read events.
final class RunLedgerBox: Sendable {
    private let ledger: Mutex<RunLedger>
    private let expectedRuns: Mutex<Int>

    init(_ ledger: RunLedger, expected: Int) {
        self.ledger = Mutex(ledger)
        self.expectedRuns = Mutex(expected)
    }

    /// The runs to wait for: one less for each that could not be started.
    var expected: Int { expectedRuns.withLock { $0 } }

    func couldNotStart() { expectedRuns.withLock { $0 -= 1 } }

    func started(_ run: String) -> RunLedger {
        ledger.withLock {
            $0.started.append(run)
            return $0
        }
    }

    /// The ledger as it stands.
    var ended: [String] { ledger.withLock { $0.ended } }

    /// Whether `run` has ended (or was abandoned).
    func isEnded(_ run: String) -> Bool { ledger.withLock { $0.ended.contains(run) } }

    /// The runs this client started.
    var startedRuns: [String] { ledger.withLock { $0.started } }

    /// Counts `run`, started by someone else (a publisher), as one of the `awaited` runs this client waits for, if
    /// one is left to wait for and `run` is new; returns the ledger when it did.
    func adopt(_ run: String, awaited: Int) -> RunLedger? {
        ledger.withLock { ledger in
            guard !ledger.started.contains(run), ledger.adopted < awaited else { return nil }
            ledger.adopted += 1
            ledger.started.append(run)
            return ledger
        }
    }

    func ended(_ run: String) -> RunLedger {
        ledger.withLock {
            if !$0.ended.contains(run) { $0.ended.append(run) }
            return $0
        }
    }
}

/// Files that let a restarted process resume: the SDK's snapshot at PATH (written before every frame the client
/// sends, atomically), and the run ledger at PATH.runs.
struct StateStore: Sendable {
    let path: String

    init(_ path: String) { self.path = path }

    func loadSnapshot() -> ClientStateMachine.Snapshot? {
        guard let data = FileManager.default.contents(atPath: path) else { return nil }
        return try? JSONDecoder().decode(ClientStateMachine.Snapshot.self, from: data)
    }

    func save(_ snapshot: ClientStateMachine.Snapshot?) {
        guard let snapshot, let data = try? JSONEncoder().encode(snapshot) else { return }
        try? data.write(to: URL(fileURLWithPath: path), options: .atomic)
    }

    func loadRuns() -> RunLedger? {
        guard let data = FileManager.default.contents(atPath: path + ".runs") else { return nil }
        return try? JSONDecoder().decode(RunLedger.self, from: data)
    }

    func saveRuns(_ ledger: RunLedger) {
        guard let data = try? JSONEncoder().encode(ledger) else { return }
        try? data.write(to: URL(fileURLWithPath: path + ".runs"), options: .atomic)
    }

    /// Everything ended: nothing to resume.
    func remove() {
        try? FileManager.default.removeItem(atPath: path)
        try? FileManager.default.removeItem(atPath: path + ".runs")
    }
}

/// What this process delivered to the app, checked at the end: each seq once, none missing below the highest, and
/// only events of runs this client started (isolation). `cluster.sh` reads the `deliveries:` line it prints.
final class DeliveryCheck: Sendable {
    private struct Tally {
        var seqs: Set<Seq> = []
        var duplicates = 0
        var runs: Set<String> = []
    }

    private let tally = Mutex(Tally())

    func note(_ event: Event) {
        tally.withLock { tally in
            if !tally.seqs.insert(event.seq).inserted { tally.duplicates += 1 }
            tally.runs.insert(event.run)
        }
    }

    /// The summary line, and whether it is clean. `complete`: this process saw the session from seq 1.
    func summary(started: [String], complete: Bool) -> (line: String, clean: Bool) {
        tally.withLock { tally in
            let highest = tally.seqs.max() ?? 0
            let gaps = complete ? Int(highest) - tally.seqs.count : 0
            let foreign = tally.runs.subtracting(started).sorted()
            let line =
                "deliveries: \(tally.seqs.count) events, highest seq \(highest), duplicates \(tally.duplicates), "
                + "gaps \(gaps), foreign runs \(foreign.count)" + (foreign.isEmpty ? "" : " \(foreign)")
            return (line, tally.duplicates == 0 && gaps == 0 && foreign.isEmpty)
        }
    }
}
