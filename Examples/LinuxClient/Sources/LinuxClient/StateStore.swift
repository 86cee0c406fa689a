import EventAckClient
import Foundation
import Synchronization

/// The runs this client started and saw end: app state, kept next to the SDK's snapshot.
struct RunLedger: Codable, Sendable {
    var started: [String] = []
    var ended: [String] = []
}

/// The ledger, shared by the tasks that start runs and read events.
final class RunLedgerBox: Sendable {
    private let ledger: Mutex<RunLedger>

    init(_ ledger: RunLedger) { self.ledger = Mutex(ledger) }

    func started(_ run: String) -> RunLedger {
        ledger.withLock {
            $0.started.append(run)
            return $0
        }
    }

    /// The ledger as it stands.
    var ended: [String] { ledger.withLock { $0.ended } }

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
