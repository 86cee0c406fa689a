import EventAckClient
import EventAckProtocol
import EventAckPublish
import EventAckReconciler
import EventAckTesting
import Synchronization
import Testing

/// The publish API's shell over a real `ReconcilerService`, with clients over in-memory connections.
@Suite("Publish service", .timeLimit(.minutes(1)))
struct PublishServiceTests {
    /// Waits (polling, bounded) until `condition` holds; returns whether it did.
    static func eventually(_ condition: () -> Bool) async -> Bool {
        for _ in 0..<500 {
            if condition() { return true }
            try? await Task.sleep(for: .milliseconds(10))
        }
        return condition()
    }

    /// A service, its publish API started, and a transport whose connections it serves as `alice`.
    static func serving(
        _ configuration: ReconcilerConfiguration = ReconcilerConfiguration()
    ) -> (ReconcilerService, PublishService, InMemoryClientTransport, Task<Void, Never>) {
        let service = ReconcilerService(configuration: configuration, random: SplitMix64(seed: 3))
        let publish = PublishService(service: service, runIDs: RunIDGenerator(node: "t", boot: 1))
        publish.start()
        let transport = InMemoryClientTransport()
        let acceptor = Task {
            for await end in transport.accepted {
                Task { await end.serve(on: service, principal: "alice") }
            }
        }
        return (service, publish, transport, acceptor)
    }

    /// The seqs a client's app was handed.
    final class Seen: Sendable {
        private let seqs = Mutex<[Seq]>([])
        func append(_ seq: Seq) { seqs.withLock { $0.append(seq) } }
        var all: [Seq] { seqs.withLock { $0 } }
    }

    /// A client that confirms what each event asks for; the seqs it was handed.
    static func confirmingClient(over transport: InMemoryClientTransport) async -> (
        EventAckClient, Seen, Task<Void, Never>
    ) {
        let client = EventAckClient(
            transport: transport, configuration: ClientConfiguration(handshakeTimeoutMs: 120_000), jitterSeed: 1)
        await client.start()
        let seen = Seen()
        let consumer = Task {
            for await delivery in client.events {
                seen.append(delivery.event.seq)
                if delivery.event.confirm >= .display { try? await delivery.markDisplayed() }
                if delivery.event.confirm == .value { try? await delivery.confirmValue(signal: "ok") }
            }
        }
        return (client, seen, consumer)
    }

    static let body = """
        {"events":[{"id":"1","kind":"agent_started"},
        {"id":"2","kind":"agent_thinking","payload":{"text":"hm"}},
        {"id":"3","kind":"agent_completed","confirm":"value","payload":{"result":"42"}}]}
        """

    @Test(
        "a run for a user goes to each of their sessions once; the feed confirms each event and ends with the verdict (EA-PUB-3, EA-PUB-6, EA-PUB-7)"
    )
    func fanOutToSessions() async throws {
        let (service, publish, transport, acceptor) = Self.serving()
        let first = await Self.confirmingClient(over: transport)
        let second = await Self.confirmingClient(over: transport)
        #expect(await Self.eventually { service.sessions(of: "alice").count == 2 })
        let (opened, created) = try await publish.openRun(OpenRunRequest(audience: .principal("alice"), run: "trip"))
        #expect(created && opened.sessions.count == 2)
        let outcome = try await publish.publish(body: Self.body, to: "trip", waitMs: 1_000)
        #expect(outcome.refusal == nil && outcome.results.map(\.id) == ["1", "2", "3"])
        // A reader waits for the feed without polling; a lost wake-up would hold it past the suite's time limit.
        await publish.waitForFeed(of: "trip", after: 0, timeoutMs: 600_000)
        #expect(publish.feed(of: "trip", after: 0)?.items.isEmpty == false)
        #expect(outcome.results.allSatisfy { $0.seqs.count == 2 && !$0.duplicate })
        #expect(await Self.eventually { publish.feed(of: "trip", after: 0)?.complete == true })
        let feed = try #require(publish.feed(of: "trip", after: 0))
        #expect(feed.items.filter { $0.event == .confirmed }.count == 6, "3 events × 2 sessions")
        guard case .verdict(_, let verdict) = feed.items.last else {
            Issue.record("the feed does not end with the verdict")
            return
        }
        #expect(verdict.verdict == .confirmed && verdict.outcome == .succeeded)
        #expect(first.1.all == [1, 2, 3] && second.1.all == [1, 2, 3])
        let again = try await publish.publish(body: Self.body, to: "trip", waitMs: 0)
        #expect(
            again.results.allSatisfy { $0.duplicate }, "a retry of the request that ended the run answers duplicate")
        #expect(first.1.all.count == 3, "and emits nothing")
        for task in [first.2, second.2, acceptor] { task.cancel() }
        publish.stop()
        service.shutdown()
    }

    @Test(
        "a full window: the request waits, then answers 429 with the accepted prefix; nothing else was emitted (EA-PUB-5)"
    )
    func fullWindow() async throws {
        var configuration = ReconcilerConfiguration()
        configuration.window = 2
        configuration.maxQueuedEvents = 2
        let (service, publish, transport, acceptor) = Self.serving(configuration)
        // A client that reads and never acks: hello by hand over an in-memory connection.
        let inbound = InboundFrames()
        let connection = try await transport.connect(handingFramesTo: inbound)
        let hello = Hello(versions: [.current], client: ClientInfo(name: "t", version: "1"))
        try await connection.send(MessageCodec().encode(.hello(hello)))
        #expect(await Self.eventually { service.sessions(of: "alice").count == 1 })
        let session = try #require(service.sessions(of: "alice").first)
        _ = try await publish.openRun(OpenRunRequest(audience: .session(session), run: "r"))
        let events = (1...6).map { #"{"id":"e\#($0)","kind":"agent_thinking","payload":{"text":"t"}}"# }
        let body = #"{"events":[{"id":"e0","kind":"agent_started"},"# + events.joined(separator: ",") + "]}"
        let outcome = try await publish.publish(body: body, to: "r", waitMs: 50)
        #expect(outcome.refusal?.status == 429 && outcome.refusal?.code == "window_full")
        #expect(outcome.results.map(\.id) == ["e0", "e1", "e2", "e3"], "window 2 + queue 2")
        #expect(outcome.retryAfterMs != nil)
        #expect(try await publish.view(of: "r")?.0.published == 4)
        await connection.close()
        acceptor.cancel()
        publish.stop()
        service.shutdown()
    }

    @Test(
        "a producer silent for its idle timeout: the client gets agent_failed, the run ends with agent_silent (EA-PUB-9)"
    )
    func silentProducer() async throws {
        let (service, publish, transport, acceptor) = Self.serving()
        let client = EventAckClient(
            transport: transport, configuration: ClientConfiguration(handshakeTimeoutMs: 120_000), jitterSeed: 2)
        await client.start()
        #expect(await Self.eventually { service.sessions(of: "alice").count == 1 })
        _ = try await publish.openRun(OpenRunRequest(audience: .principal("alice"), run: "r", idleTimeoutMs: 1_000))
        _ = try await publish.publish(body: #"{"events":[{"id":"1","kind":"agent_started"}]}"#, to: "r", waitMs: 0)
        var kinds: [String] = []
        for await delivery in client.events {
            kinds.append(delivery.event.kind)
            if delivery.event.kind == "agent_failed" {
                #expect(delivery.event.payload[member: "reason"] == .string("agent_silent"))
                break
            }
        }
        #expect(kinds == ["agent_started", "agent_failed"])
        #expect(await Self.eventually { publish.feed(of: "r", after: 0)?.complete == true })
        #expect(try await publish.view(of: "r")?.0.verdict.endedBy == "agent_silent")
        #expect(try await publish.view(of: "r")?.0.verdict.outcome == .failed)
        do {
            try await publish.progress(run: "r", note: nil)
            Issue.record("progress for an ended run was taken")
        } catch {
            #expect(error.code == "run_ended")
        }
        acceptor.cancel()
        publish.stop()
        service.shutdown()
    }
}
