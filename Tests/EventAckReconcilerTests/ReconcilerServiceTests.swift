import Dispatch
import EventAckClient
import EventAckProtocol
import EventAckReconciler
import EventAckTesting
import Synchronization
import Testing

/// The service shell end to end with the real client over in-memory connections.
@Suite("ReconcilerService")
struct ReconcilerServiceTests {
    /// A client that waits for its `welcome` as long as a test may take: the synchronous tests beside these ones can
    /// hold both threads of a 2-core machine for many seconds, and a handshake timeout firing meanwhile makes the client
    /// start a second session, which no assertion here expects.
    static let patient = ClientConfiguration(handshakeTimeoutMs: 120_000)

    /// Waits (polling, bounded) until `condition` holds; returns whether it did.
    static func eventually(_ condition: () -> Bool) async -> Bool {
        for _ in 0..<500 {
            if condition() { return true }
            try? await Task.sleep(for: .milliseconds(10))
        }
        return condition()
    }

    @Test("an agent run is received, displayed and valued; a cut connection is resumed with nothing lost")
    func endToEnd() async throws {
        let service = ReconcilerService(random: SplitMix64(seed: 5))
        let transport = InMemoryClientTransport()
        let ends = Mutex<[InMemoryServerEnd]>([])
        let acceptor = transport.serveEach { end in
            ends.withLock { $0.append(end) }
            await end.serve(on: service, principal: "alice")
        }
        let client = EventAckClient(
            transport: transport, configuration: Self.patient, reconnect: ReconnectPolicy(baseMs: 10), jitterSeed: 1)
        await client.start()
        #expect(await Self.eventually { !service.sessions(of: "alice").isEmpty })
        let session = try #require(service.sessions(of: "alice").first)

        let delivered = Mutex<[Seq]>([])
        let consumer = Task {
            for await delivery in client.events {
                delivered.withLock { $0.append(delivery.event.seq) }
                if delivery.event.confirm >= .display { try? await delivery.markDisplayed() }
                if delivery.event.confirm == .value { try? await delivery.confirmValue(signal: "thumbs_up") }
            }
        }
        try service.emit(run: "run_1", kind: "agent_started", to: session)
        try service.emit(
            run: "run_1", kind: "agent_thinking", payload: Payload(json: #"{"text":"hm"}"#), confirm: .display,
            to: session)
        #expect(await Self.eventually { delivered.withLock { $0.count } == 2 })
        // Cut the connection: the client reconnects and resumes the same session.
        ends.withLock { $0.first?.close() }
        try service.emit(
            run: "run_1", kind: "agent_completed", payload: Payload(json: #"{"result":"42"}"#), confirm: .value,
            to: session)
        let confirmed = await Self.eventually { service.report().runVerdicts["confirmed"] == 1 }
        #expect(confirmed)
        #expect(delivered.withLock { $0 } == [1, 2, 3])
        #expect(service.sessions(of: "alice") == [session])
        let report = service.report()
        #expect(report.overall.value.confirmed == 1)
        #expect(report.overall.display.confirmed == 2)
        #expect(report.overall.failed == 0)

        await client.close()
        let final = service.shutdown()
        #expect(final.overall.pending == 0)
        acceptor.cancel()
        consumer.cancel()
    }

    @Test("a batch is emitted in order until an event cannot be taken: the prefix's seqs and the refusal (EA-PUB-5)")
    func batchStopsAtTheFirstRefusal() throws {
        var configuration = ReconcilerConfiguration()
        configuration.window = 2
        configuration.maxQueuedEvents = 1
        let service = ReconcilerService(configuration: configuration, random: SplitMix64(seed: 8))
        let connection = try #require(service.open(NonReadingConnection(), principal: "alice"))
        let hello = Hello(versions: [.current], client: ClientInfo(name: "t", version: "1"))
        _ = connection.receive(.text(MessageCodec().encode(.hello(hello))))
        let session = try #require(service.sessions(of: "alice").first)
        let batch = (1...5).map { ReconcilerService.Emission(run: "r", kind: "step", origin: "k\($0)") }
        let (seqs, refusal) = service.emit(batch, toEach: [session])
        #expect(seqs == [[session: 1], [session: 2], [session: 3]], "window 2 + queue 1")
        #expect(refusal?.code == "window_exceeded")
        let (none, unknown) = service.emit(batch, toEach: [SessionID("s_nope"), session])
        #expect(none.isEmpty && unknown == .unknownSession("s_nope"), "all sessions or none, from the first event")
        service.shutdown()
    }

    @Test("emit errors reach the caller: unknown session, bad identifiers")
    func emitErrors() {
        let service = ReconcilerService(random: SplitMix64(seed: 6))
        #expect(throws: ReconcilerError.unknownSession("s_nope")) {
            try service.emit(run: "r", kind: "k", to: "s_nope")
        }
        let error = #expect(throws: ReconcilerError.self) {
            try service.emit(run: "", kind: "k", to: "s_nope")
        }
        #expect(error?.code == "invalid_argument")
        service.shutdown()
    }
}

/// A connection whose peer never reads: every send waits (until cancelled).
struct NonReadingConnection: ServerConnection {
    func send(_ text: String) async throws { try await Task.sleep(for: .seconds(3600)) }

    func close() async {}
}

@Suite("ReconcilerService with a peer that does not read")
struct NonReadingPeerTests {
    @Test("a peer that does not read is cut: serve returns instead of holding the connection for ever")
    func nonReadingPeerIsCut() async throws {
        let service = ReconcilerService(random: SplitMix64(seed: 9), maxQueuedFrames: 16)
        let connection = try #require(service.open(NonReadingConnection(), principal: "alice"))
        let codec = MessageCodec()
        let hello = Hello(versions: [.current], client: ClientInfo(name: "t", version: "1"))
        var open = connection.receive(.text(codec.encode(.hello(hello))))
        for id in 1...200 where open { open = connection.receive(.text(codec.encode(.ping(id: UInt64(id))))) }
        #expect(!open, "the service stopped taking frames from a connection whose peer does not read")
        await connection.end()  // returns: the writer blocked in `send` is cut, not waited for
        #expect(service.sessionCounts().closedNotReading == 1)
        service.shutdown()
    }
}

/// A connection that keeps what the service sends to it.
final class RecordingConnection: ServerConnection {
    let sent = Mutex<[String]>([])

    func send(_ text: String) async throws { sent.withLock { $0.append(text) } }

    func close() async {}
}

@Suite("ReconcilerService with frames handed over by the host")
struct ServedConnectionTests {
    @Test("receive answers each frame, says false once the service closed the connection, and end returns")
    func hostFedConnection() async throws {
        let service = ReconcilerService(random: SplitMix64(seed: 12))
        let connection = RecordingConnection()
        let served = try #require(service.open(connection, principal: "alice"))
        // A binary frame is answered with a non-fatal error: the connection stays.
        #expect(served.receive(.binary))
        // Anything but hello before the handshake is fatal (EA-HS-1): the service closes the connection.
        #expect(served.receive(.text(MessageCodec().encode(.ping(id: 1)))) == false)
        await served.end()
        let codes = try connection.sent.withLock { $0 }.map { text -> String in
            guard case .error(let error) = try MessageCodec().decode(text) else { return "not an error" }
            return error.code.rawValue
        }
        #expect(codes == ["malformed_json", "handshake_required"])
        service.shutdown()
        #expect(service.open(connection, principal: "alice") == nil)
    }
}

/// Runs every job it is given on a global dispatch queue, counting them: a stand-in for a connection's event loop.
final class CountingTaskExecutor: TaskExecutor {
    let jobs = Atomic<Int>(0)

    func enqueue(_ job: consuming ExecutorJob) {
        jobs.add(1, ordering: .relaxed)
        let job = UnownedJob(job)
        DispatchQueue.global().async { job.runSynchronously(on: self.asUnownedTaskExecutor()) }
    }
}

@Suite("ReconcilerService and the connections' executors")
struct WriterExecutorTests {
    @Test("a session names the executor of the connection it is attached to, and none once detached")
    func writerExecutorOfSession() async throws {
        let service = ReconcilerService(random: SplitMix64(seed: 13))
        let transport = InMemoryClientTransport()
        let executor = CountingTaskExecutor()
        let ends = Mutex<[InMemoryServerEnd]>([])
        let acceptor = transport.serveEach { end in
            ends.withLock { $0.append(end) }
            await end.serve(on: service, principal: "alice", writerExecutor: executor)
        }
        // The client never reconnects: once cut, the session stays detached.
        let client = EventAckClient(
            transport: transport, configuration: ReconcilerServiceTests.patient,
            reconnect: ReconnectPolicy(baseMs: 60_000, capMs: 60_000), jitterSeed: 2)
        await client.start()
        #expect(await ReconcilerServiceTests.eventually { !service.sessions(of: "alice").isEmpty })
        let session = try #require(service.sessions(of: "alice").first)
        let named = try #require(service.writerExecutor(of: session))
        #expect(named === executor as AnyObject)
        #expect(executor.jobs.load(ordering: .relaxed) > 0)  // the writer ran there (the welcome frame)
        #expect(service.writerExecutor(of: "s_unknown") == nil)

        ends.withLock { $0.first?.close() }
        #expect(await ReconcilerServiceTests.eventually { service.writerExecutor(of: session) == nil })
        #expect(service.holds(session))  // detached, waiting for a resume: held, with no connection
        // Nothing was left to confirm: the close gives up on the server at once instead of waiting 5 s for it.
        _ = await client.close(timeoutMs: 1)
        service.shutdown()
        acceptor.cancel()
    }
}
