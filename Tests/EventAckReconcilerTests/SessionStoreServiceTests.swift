import EventAckClient
import EventAckProtocol
import EventAckReconciler
import EventAckTesting
import Foundation
import Synchronization
import Testing

/// A store whose appends wait until the test opens the gate.
final class GatedStore: SessionStore {
    let inner: InMemorySessionStore
    let isOpen = Mutex(false)
    let appends = Mutex(0)

    init(_ inner: InMemorySessionStore) { self.inner = inner }

    func append(_ records: [SessionRecord], commit: CommitID) async throws -> Set<SessionID> {
        while !isOpen.withLock({ $0 }) { try await Task.sleep(for: .milliseconds(5)) }
        appends.withLock { $0 += 1 }
        return try await inner.append(records, commit: commit)
    }

    func load(_ session: SessionID) async throws -> [SessionRecord]? { try await inner.load(session) }
}

/// Routes every accepted connection to the node currently "alive".
final class StoreCluster: Sendable {
    let transport = InMemoryClientTransport()
    let alive: Mutex<ReconcilerService>
    let ends = Mutex<[InMemoryServerEnd]>([])

    init(_ first: ReconcilerService) {
        alive = Mutex(first)
        _ = transport.serveEach { [self] end in
            ends.withLock { $0.append(end) }
            let service = alive.withLock { $0 }
            await end.serve(on: service, principal: "alice")
        }
    }

    /// A client of the live node: its session once the node holds it, the seqs delivered to its app, and the task
    /// that collects them (cancel it at the end).
    func connectClient() async throws -> (SessionID, DeliveredSeqs, Task<Void, Never>) {
        let service = alive.withLock { $0 }
        let client = EventAckClient(
            transport: transport, configuration: ReconcilerServiceTests.patient,
            reconnect: ReconnectPolicy(baseMs: 10), jitterSeed: 1)
        await client.start()
        #expect(await ReconcilerServiceTests.eventually { !service.sessions(of: "alice").isEmpty })
        let session = try #require(service.sessions(of: "alice").first)
        let delivered = DeliveredSeqs()
        let consumer = Task {
            for await delivery in client.events { delivered.append(delivery.event.seq) }
        }
        return (session, delivered, consumer)
    }

    /// The live node dies: its connections are cut and `next` takes the traffic.
    func crash(to next: ReconcilerService) {
        alive.withLock { $0 = next }
        for end in ends.withLock({ $0 }) { end.close() }
    }
}

/// The seqs a client's app was handed, in order.
final class DeliveredSeqs: Sendable {
    private let seqs = Mutex<[Seq]>([])
    func append(_ seq: Seq) { seqs.withLock { $0.append(seq) } }
    var all: [Seq] { seqs.withLock { $0 } }
}

@Suite("Session store with the service")
struct SessionStoreServiceTests {
    @Test("nothing reaches the client before the store has it: the event waits for the append (EA-DUR-2)")
    func welcomeWaitsForTheStore() async throws {
        let store = GatedStore(InMemorySessionStore())
        let service = ReconcilerService(random: SplitMix64(seed: 3), store: store)
        let (session, delivered, consumer) = try await StoreCluster(service).connectClient()
        try service.emit(run: "run_1", kind: "agent_started", to: session)
        try? await Task.sleep(for: .milliseconds(150))
        #expect(delivered.all.isEmpty, "an event went out before its record was durable")
        #expect(store.appends.withLock { $0 } == 0)
        store.isOpen.withLock { $0 = true }
        #expect(await ReconcilerServiceTests.eventually { delivered.all == [1] })
        consumer.cancel()
        service.shutdown()
    }

    @Test("writesSettled returns once what was changed before it is in the store, not before (EA-DUR-5 ordering)")
    func writesSettledWaitsForTheAppend() async throws {
        let store = GatedStore(InMemorySessionStore())
        let service = ReconcilerService(random: SplitMix64(seed: 5), store: store)
        await service.writesSettled()  // nothing written: at once
        let cluster = StoreCluster(service)
        let client = EventAckClient(
            transport: cluster.transport, configuration: ReconcilerServiceTests.patient,
            reconnect: ReconnectPolicy(baseMs: 10), jitterSeed: 1)
        await client.start()
        store.isOpen.withLock { $0 = true }
        #expect(await ReconcilerServiceTests.eventually { !service.sessions(of: "alice").isEmpty })
        let session = try #require(service.sessions(of: "alice").first)
        store.isOpen.withLock { $0 = false }
        try service.emit(run: "run_1", kind: "agent_started", to: session)
        let settled = Mutex(false)
        let waiter = Task {
            await service.writesSettled()
            settled.withLock { $0 = true }
        }
        try? await Task.sleep(for: .milliseconds(100))
        #expect(settled.withLock { $0 } == false, "returned while the emit's record was not appended")
        store.isOpen.withLock { $0 = true }
        #expect(await ReconcilerServiceTests.eventually { settled.withLock { $0 } })
        await waiter.value
        service.shutdown()
    }

    @Test("a node dies mid-run: the client resumes on another node, nothing lost or twice, one verdict (EA-DUR-6)")
    func crashAndResumeElsewhere() async throws {
        let storage = InMemorySessionStore.Storage()
        let a = ReconcilerService(random: SplitMix64(seed: 3), store: InMemorySessionStore(storage: storage, node: "a"))
        let cluster = StoreCluster(a)
        let (session, delivered, consumer) = try await cluster.connectClient()
        for kind in ["agent_started", "agent_thinking"] {
            try a.emit(run: "run_1", kind: kind, payload: Payload(json: #"{"text":"t"}"#), to: session)
        }
        #expect(await ReconcilerServiceTests.eventually { delivered.all.count == 2 })
        let b = ReconcilerService(random: SplitMix64(seed: 4), store: InMemorySessionStore(storage: storage, node: "b"))
        cluster.crash(to: b)
        #expect(await ReconcilerServiceTests.eventually { b.holds(session) })
        // B holds the session once it is loaded; it owns it once the accepted resume's record is appended.
        #expect(await ReconcilerServiceTests.eventually { storage.owner(of: session) == "b" })
        try b.emit(run: "run_1", kind: "agent_completed", payload: Payload(json: #"{"result":"done"}"#), to: session)
        #expect(await ReconcilerServiceTests.eventually { delivered.all == [1, 2, 3] })
        #expect(
            await ReconcilerServiceTests.eventually { storage.finishedRuns.map(\.verdict) == [.confirmed] },
            "\(storage.finishedRuns) \(b.report().text)")
        consumer.cancel()
        a.shutdown()
        b.shutdown()
    }
}
