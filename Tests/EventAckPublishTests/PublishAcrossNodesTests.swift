import EventAckClient
import EventAckProtocol
import EventAckPublish
import EventAckReconciler
import EventAckTesting
import Synchronization
import Testing

/// A `SessionStore` and `PublishLedger` in memory for several nodes: the ledger's one rule — a published event's
/// id is recorded in the append that makes its record durable — kept as a database would keep it.
final class LedgerStore: SessionStore, PublishLedger {
    /// What every node shares besides the session records.
    final class Shelf: Sendable {
        let runs = Mutex<[String: LedgerRun]>([:])
    }

    let inner: InMemorySessionStore
    let shelf: Shelf

    init(storage: InMemorySessionStore.Storage, shelf: Shelf, node: String) {
        inner = InMemorySessionStore(storage: storage, node: node)
        self.shelf = shelf
    }

    func append(_ records: [SessionRecord], commit: CommitID) async throws -> Set<SessionID> {
        let fenced = inner.appendNow(records, commit: commit)
        shelf.runs.withLock { runs in
            for record in records where !fenced.contains(record.session) {
                guard
                    case .emitted(let seq, let run, let kind, _, let confirm, let endsRun, let payload, let origin) =
                        record.change, let id = PublishedEvent.id(fromOrigin: origin), runs[run] != nil
                else { continue }
                if let index = runs[run]!.events.firstIndex(where: { $0.id == id }) {
                    runs[run]!.events[index].seqs[record.session] = seq
                } else {
                    let body = PublishedEvent.body(
                        id: id, kind: kind, confirm: confirm, payload: try! JSONValue(parsingObject: payload.json),
                        endsRun: endsRun)
                    runs[run]!.events.append(LedgerEvent(id: id, body: body, seqs: [record.session: seq]))
                }
            }
        }
        return fenced
    }

    func load(_ session: SessionID) async throws -> [SessionRecord]? { inner.loadNow(session) }

    func register(_ run: LedgerRun) async throws -> LedgerRun {
        shelf.runs.withLock { runs in
            if let recorded = runs[run.run] { return recorded }
            runs[run.run] = run
            return run
        }
    }

    func run(_ id: String) async throws -> LedgerRun? { shelf.runs.withLock { $0[id] } }

    func sessions(ofRun id: String) async throws -> [SessionID]? { shelf.runs.withLock { $0[id]?.sessions } }

    func agentStreamRead(_ run: String) async throws {}

    func ended(_ run: String, at: UInt64) async throws {
        shelf.runs.withLock { runs in if runs[run]?.endedAt == nil { runs[run]?.endedAt = at } }
    }
}

/// A relay that hands operations straight to another node's endpoint, counting them.
final class DirectRelay: PublishRelay {
    let other: PublishEndpoint
    let sent = Mutex(0)

    init(other: PublishEndpoint) { self.other = other }

    func sessions(of principal: String) async throws -> [SessionID] { other.publish.service.sessions(of: principal) }
    func send(_ operation: PublishOperation, via session: SessionID) async throws(PublishError) -> PublishReply? {
        guard other.publish.service.holds(session) else { return nil }
        sent.withLock { $0 += 1 }
        return await other.performHere(operation)
    }
}

/// Nodes over one store: every client connection goes to the node currently "alive".
final class PublishCluster: Sendable {
    let storage = InMemorySessionStore.Storage()
    let shelf = LedgerStore.Shelf()
    let transport = InMemoryClientTransport()
    let alive = Mutex<ReconcilerService?>(nil)
    let ends = Mutex<[InMemoryServerEnd]>([])

    init() {
        _ = transport.serveEach { [self] end in
            ends.withLock { $0.append(end) }
            guard let service = alive.withLock({ $0 }) else { return }
            await end.serve(on: service, principal: "alice")
        }
    }

    /// A node: its service and publish API over the shared store and ledger.
    func node(_ name: String, seed: UInt64) -> (ReconcilerService, PublishService) {
        let store = LedgerStore(storage: storage, shelf: shelf, node: name)
        // As the AgentServer runs: only published runs' confirmations are reported, which a node that takes a
        // session over must go on doing.
        var configuration = ReconcilerConfiguration()
        configuration.reportsEachConfirmation = false
        let service = ReconcilerService(configuration: configuration, random: SplitMix64(seed: seed), store: store)
        let publish = PublishService(service: service, runIDs: RunIDGenerator(node: name, boot: seed), ledger: store)
        publish.start()
        return (service, publish)
    }

    /// Sends the client traffic to `service`, cutting the connections of the node before it (it died).
    func route(to service: ReconcilerService) {
        alive.withLock { $0 = service }
        for end in ends.withLock({ $0 }) { end.close() }
    }
}

@Suite("Publishing across nodes", .timeLimit(.minutes(1)))
struct PublishAcrossNodesTests {
    static let firstTwo = """
        {"events":[{"id":"e1","kind":"agent_started"},{"id":"e2","kind":"agent_thinking","payload":{"text":"hm"}}]}
        """
    static let all = """
        {"events":[{"id":"e1","kind":"agent_started"},{"id":"e2","kind":"agent_thinking","payload":{"text":"hm"}},
        {"id":"e3","kind":"agent_completed","payload":{"result":"42"}}]}
        """

    @Test(
        "the node that took a session over answers a retry of ids taken before the crash as duplicate, with their seqs, and emits the rest once (EA-PUB-4, EA-PUB-13)"
    )
    func retryAfterCrash() async throws {
        let cluster = PublishCluster()
        let (a, publishA) = cluster.node("a", seed: 3)
        cluster.route(to: a)
        let (client, seen, consumer) = await PublishServiceTests.confirmingClient(over: cluster.transport)
        #expect(await PublishServiceTests.eventually { a.sessions(of: "alice").count == 1 })
        let session = try #require(a.sessions(of: "alice").first)
        let request = OpenRunRequest(audience: .session(session), run: "trip")
        #expect(try await publishA.openRun(request).created)
        let first = try await publishA.publish(body: Self.firstTwo, to: "trip", waitMs: 1_000)
        #expect(first.refusal == nil && first.results.map { $0.seqs[session] } == [1, 2])
        #expect(await PublishServiceTests.eventually { seen.all == [1, 2] })

        // Node a dies; b takes the client's resume, and the producer's retries.
        publishA.stop()
        a.shutdown()
        let (b, publishB) = cluster.node("b", seed: 4)
        cluster.route(to: b)
        #expect(await PublishServiceTests.eventually { b.holds(session) })
        let (reopened, created) = try await publishB.openRun(request)
        #expect(!created && reopened.sessions == [session], "the same request again is a repeat, on any node")
        await #expect(throws: PublishError.self, "a run id names one run across the nodes") {
            _ = try await publishB.openRun(OpenRunRequest(audience: .principal("alice"), run: "trip"))
        }
        let retry = try await publishB.publish(body: Self.all, to: "trip", waitMs: 1_000)
        #expect(retry.refusal == nil)
        #expect(retry.results.map(\.duplicate) == [true, true, false])
        #expect(retry.results.map { $0.seqs[session] } == [1, 2, 3])
        #expect(await PublishServiceTests.eventually { seen.all == [1, 2, 3] }, "each event delivered once")
        do {
            _ = try await publishB.publish(
                body: #"{"events":[{"id":"e2","kind":"agent_thinking","payload":{"text":"other"}}]}"#, to: "trip",
                waitMs: 0)
            Issue.record("an id taken on another node with another body was not refused")
        } catch {
            #expect(error.code == "id_conflict")
        }
        #expect(await PublishServiceTests.eventually { publishB.feed(of: "trip", after: 0)?.complete == true })
        guard case .verdict(_, let verdict)? = publishB.feed(of: "trip", after: 0)?.items.last else {
            Issue.record("the feed on the node that took over does not end with the verdict")
            return
        }
        #expect(verdict.verdict == .confirmed, "\(verdict)")
        consumer.cancel()
        await client.close()
        publishB.stop()
        b.shutdown()
    }

    @Test(
        "a request reaching a node that does not hold the run's sessions is relayed to the node that does, and answered with its answer (EA-PUB-11)"
    )
    func relayedToTheOwner() async throws {
        let cluster = PublishCluster()
        let (a, publishA) = cluster.node("a", seed: 5)
        let (b, publishB) = cluster.node("b", seed: 6)
        cluster.route(to: a)
        let (client, seen, consumer) = await PublishServiceTests.confirmingClient(over: cluster.transport)
        #expect(await PublishServiceTests.eventually { a.sessions(of: "alice").count == 1 })
        let relay = DirectRelay(other: PublishEndpoint(publish: publishA))
        let atB = PublishEndpoint(publish: publishB, relay: relay)

        let opened = await atB.perform(.open(body: #"{"principal":"alice","run":"trip"}"#))
        #expect(opened.status == 201, "\(opened.body)")
        let published = await atB.perform(.events(run: "trip", body: Self.all, waitMs: 1_000))
        #expect(published.status == 200, "\(published.body)")
        #expect(await PublishServiceTests.eventually { seen.all == [1, 2, 3] })
        let view = await atB.perform(.view(run: "trip"))
        #expect(view.status == 200 && view.body.contains(#""published":3"#), "\(view.body)")
        #expect(relay.sent.withLock { $0 } == 3, "every operation went to the node that holds the session")
        #expect(!b.holds(try #require(a.sessions(of: "alice").first)))

        // The confirmations stream, part by part through the relay: its ids are node a's.
        var part = await atB.perform(.feed(run: "trip", after: nil, waitMs: 2_000))
        var text = part.body
        while part.status == 200, part.complete != true {
            part = await atB.perform(.feed(run: "trip", after: part.lastEventID, waitMs: 2_000))
            text += part.body
        }
        #expect(text.contains("event: verdict"), "\(text)")
        #expect(text.contains("id: \(publishA.feedGeneration)-"))
        let after = await atB.perform(.feed(run: "trip", after: part.lastEventID, waitMs: 0))
        #expect(after.status == 204, "a reconnect after the verdict gets 204")

        let unknown = await atB.perform(.events(run: "nope", body: Self.all, waitMs: 0))
        #expect(unknown.status == 404, "a run no node opened is refused where the request arrived")
        consumer.cancel()
        await client.close()
        for publish in [publishA, publishB] { publish.stop() }
        a.shutdown()
        b.shutdown()
    }
}
