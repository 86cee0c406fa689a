import EventAckClient
import EventAckProtocol
import EventAckReconciler
import EventAckTesting
import Foundation
import Synchronization
import Testing

/// A commit whose outcome the writer never learned is retried under the same ``CommitID`` and answered by what it
/// did, never done twice (EA-DUR-7); one verdict per (session, run) whatever is sent (EA-DUR-6).
@Suite("Unknown commit outcomes")
struct UnknownCommitOutcomeTests {
    static func opened(_ session: SessionID) -> SessionRecord {
        SessionRecord(
            session: session,
            change: .opened(principal: "alice", token: "t", version: .current, window: 8, at: 1))
    }

    static func emitted(_ session: SessionID, _ seq: Seq) -> SessionRecord {
        SessionRecord(
            session: session,
            change: .emitted(
                seq: seq, run: "r", kind: "agent_started", ts: 1, confirm: .receipt, endsRun: false, payload: .empty,
                origin: nil))
    }

    @Test("a retried commit that had been made writes nothing again and is not fenced by itself")
    func retryOfAMadeCommit() {
        let store = InMemorySessionStore(node: "a")
        let session = SessionID("s_1")
        let first = CommitID.random()
        #expect(store.appendNow([Self.opened(session), Self.emitted(session, 1)], commit: first).isEmpty)
        // The answer was lost; the writer retries the same batch.
        #expect(store.appendNow([Self.opened(session), Self.emitted(session, 1)], commit: first).isEmpty)
        #expect(store.loadNow(session)?.count == 2, "the records are there once")
        // The node still owns the session: its next batch is written.
        #expect(store.appendNow([Self.emitted(session, 2)], commit: .random()).isEmpty)
        #expect(store.loadNow(session)?.count == 3)
    }

    @Test("a retried resume that had been made keeps the session, instead of losing it to its own first attempt")
    func retryOfAResume() {
        let storage = InMemorySessionStore.Storage()
        let a = InMemorySessionStore(storage: storage, node: "a")
        let b = InMemorySessionStore(storage: storage, node: "b")
        let session = SessionID("s_1")
        _ = a.appendNow([Self.opened(session)], commit: .random())
        _ = b.loadNow(session)
        let resumed = SessionRecord(
            session: session,
            change: .resumed(
                token: "t2", previousToken: "t", previousValidUntil: 9, version: .current, window: 8, at: 2))
        let commit = CommitID.random()
        #expect(b.appendNow([resumed], commit: commit).isEmpty)
        #expect(b.appendNow([resumed], commit: commit).isEmpty, "the retry is answered as the commit was")
        #expect(storage.owner(of: session) == "b")
        #expect(a.appendNow([Self.emitted(session, 1)], commit: .random()) == [session], "a is fenced")
        #expect(b.appendNow([Self.emitted(session, 1)], commit: .random()).isEmpty, "b owns it")
    }

    @Test("a second verdict for a (session, run) is refused by the store, whatever the writer sends")
    func oneVerdict() throws {
        let store = InMemorySessionStore(node: "a")
        let session = SessionID("s_1")
        _ = store.appendNow([Self.opened(session)], commit: .random())
        let json = """
            {"run":"r","session":"s_1","principal":"alice","verdict":"confirmed","failures":[],"omittedFailures":0,
             "warnings":[],"stats":\(String(decoding: try JSONEncoder().encode(ConfirmationStats()), as: UTF8.self))}
            """
        let report = try JSONDecoder().decode(RunReport.self, from: Data(json.utf8))
        let verdict = SessionRecord(session: session, change: .runFinished(report))
        _ = store.appendNow([verdict], commit: .random())
        _ = store.appendNow([verdict], commit: .random())
        #expect(store.storage.finishedRuns.count == 1)
        #expect(store.storage.refusedVerdicts == 1)
    }

    @Test("commit ids print as UUIDs")
    func commitIDText() {
        let id = CommitID(high: 0x0123_4567_89ab_cdef, low: 0xfedc_ba98_7654_3210)
        #expect(id.description == "01234567-89ab-cdef-fedc-ba9876543210")
        #expect(UUID(uuidString: id.description) != nil)
    }

    @Test("generated run ids differ across restarts of a node and across nodes, and fit a URL path (EA-RUN-1)")
    func runIDs() {
        var first = RunIDGenerator(node: "node-1", boot: 1)
        var restarted = RunIDGenerator(node: "node-1", boot: 2)
        var other = RunIDGenerator(node: "node-2", boot: 1)
        let ids = [first.next(), first.next(), restarted.next(), other.next()]
        #expect(Set(ids).count == 4)
        #expect(ids[0] == "run_node-1_0000000000000001_1")
        let allowed = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._:-_")
        #expect(ids.allSatisfy { $0.allSatisfy(allowed.contains) && $0.count <= 128 })
    }
}

/// A store that fails while told to: before writing (`down`), or after writing (`losesAnswers`: the commit is made
/// and the writer hears an error, as when the connection breaks after COMMIT).
final class FlakyStore: SessionStore {
    let inner: InMemorySessionStore
    let down = Mutex(false)
    let losesAnswers = Mutex(0)
    let attempts = Mutex<[CommitID]>([])

    struct Unavailable: Error {}

    init(_ inner: InMemorySessionStore) { self.inner = inner }

    func append(_ records: [SessionRecord], commit: CommitID) async throws -> Set<SessionID> {
        attempts.withLock { $0.append(commit) }
        if down.withLock({ $0 }) { throw Unavailable() }
        let fenced = try await inner.append(records, commit: commit)
        let lose = losesAnswers.withLock { count in
            defer { count = max(0, count - 1) }
            return count > 0
        }
        if lose { throw Unavailable() }
        return fenced
    }

    func load(_ session: SessionID) async throws -> [SessionRecord]? { try await inner.load(session) }
}

@Suite("The service while its store fails")
struct StoreOutageServiceTests {
    @Test("an answer lost after the commit: retried under the same commit id, delivered once, written once (EA-DUR-7)")
    func lostAnswer() async throws {
        let store = FlakyStore(InMemorySessionStore())
        let service = ReconcilerService(random: SplitMix64(seed: 3), store: store)
        let (session, delivered, consumer) = try await StoreCluster(service).connectClient()
        await service.writesSettled()
        let before = store.attempts.withLock { $0.count }
        store.losesAnswers.withLock { $0 = 2 }
        try service.emit(run: "run_1", kind: "agent_started", to: session)
        #expect(await ReconcilerServiceTests.eventually { delivered.all == [1] })
        let attempts = store.attempts.withLock { Array($0.dropFirst(before)) }
        #expect(attempts.count >= 3 && Set(attempts.prefix(3)).count == 1, "retries carry the first attempt's id")
        let emitted = store.inner.loadNow(session)?.filter { $0.kind == "emitted" }.count
        #expect(emitted == 1, "the event's record is in the store once")
        #expect(service.storeHealth.isAvailable)
        #expect(service.storeHealth.failures == 2)
        consumer.cancel()
        service.shutdown()
    }

    @Test(
        "a store that is down: unavailable, emits wait up to the bound and are refused beyond it, all resumes (EA-DUR-8)"
    )
    func outage() async throws {
        let store = FlakyStore(InMemorySessionStore())
        let service = ReconcilerService(random: SplitMix64(seed: 3), store: store, maxPendingWrites: 4)
        let (session, delivered, consumer) = try await StoreCluster(service).connectClient()
        await service.writesSettled()
        store.down.withLock { $0 = true }
        try service.emit(run: "run_1", kind: "agent_started", to: session)
        #expect(await ReconcilerServiceTests.eventually { !service.storeHealth.isAvailable })
        var accepted = 1
        var refusal: ReconcilerError?
        for _ in 0..<10 {
            do {
                try service.emit(
                    run: "run_1", kind: "agent_thinking", payload: Payload(json: #"{"text":"t"}"#), to: session)
                accepted += 1
            } catch {
                refusal = error as? ReconcilerError
                break
            }
        }
        #expect(refusal?.code == "store_unavailable")
        #expect(accepted <= 5)
        #expect(delivered.all.isEmpty, "nothing goes out before it is durable")
        store.down.withLock { $0 = false }
        #expect(await ReconcilerServiceTests.eventually { delivered.all.count == accepted })
        #expect(delivered.all == Array(1...Seq(accepted)))
        #expect(service.storeHealth.isAvailable)
        #expect(service.storeHealth.failures > 0)
        consumer.cancel()
        service.shutdown()
    }
}
