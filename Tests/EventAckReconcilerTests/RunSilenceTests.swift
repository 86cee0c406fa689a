import EventAckProtocol
import EventAckReconciler
import EventAckTesting
import Testing

/// A run whose producer went silent ends (EA-RUN-2): the session emits the profile's failure terminal itself, also
/// on a node that took the session over after the producer died with another.
@Suite("Silent runs")
struct RunSilenceTests {
    static func silentTerminals(_ actions: [ReconcilerAction]) -> [Event] {
        actions.events.filter { $0.kind == "agent_failed" && $0.payload[member: "reason"] == .string("agent_silent") }
    }

    /// Node "a" over a shared store, with a session and its run_1 requested (idle timeout `idleTimeoutMs`) and started.
    static func nodeWithStartedRun(
        idleTimeoutMs: UInt64
    ) throws -> (SessionStoreTests.Node, SessionID, InMemorySessionStore.Storage) {
        let storage = InMemorySessionStore.Storage()
        var a = SessionStoreTests.Node("a", storage: storage, seed: 1)
        let (_, welcome) = a.openSession()
        let session = SessionID(welcome.session)
        a.persist(
            try a.harness.machine.runRequested("run_1", in: session, idleTimeoutMs: idleTimeoutMs, now: a.harness.now))
        a.persist(a.harness.emit("agent_started", to: welcome.session).actions)
        return (a, session, storage)
    }

    @Test("no emit and no progress for the idle timeout: the client gets agent_failed (agent_silent) and the run ends")
    func silentRunEnds() throws {
        var harness = ReconcilerHarness { $0.runIdleTimeoutMs = 10_000 }
        let (connection, welcome) = harness.connect()
        let session = SessionID(welcome.session)
        _ = harness.emit("agent_started", to: welcome.session)
        #expect(Self.silentTerminals(harness.advance(by: 6_000)).isEmpty)
        _ = try harness.machine.progress(run: "run_1", in: session, now: harness.now)
        #expect(Self.silentTerminals(harness.runTimers(until: harness.now + 9_999)).isEmpty, "progress restarted it")
        let ended = Self.silentTerminals(harness.runTimers(until: harness.now + 2))
        #expect(ended.count == 1)
        _ = harness.ack(receipt: set(2), on: connection)
        let run = try #require(harness.report().runs.first { $0.run == "run_1" })
        #expect(run.endedBy == "agent_silent" && run.outcome == .failed && run.verdict == .confirmed)
        #expect(throws: ReconcilerError.self) {
            try harness.machine.progress(run: "run_1", in: session, now: harness.now)
        }
        #expect(Self.silentTerminals(harness.runTimers(until: harness.now + 60_000)).isEmpty, "ended once")
    }

    @Test("a producer whose emits the server refused (its store down) is alive: the idle timeout starts again")
    func refusedProducerIsAlive() {
        var harness = ReconcilerHarness { $0.runIdleTimeoutMs = 10_000 }
        let (_, welcome) = harness.connect()
        _ = harness.emit("agent_started", to: welcome.session)
        _ = harness.advance(by: 8_000)
        harness.machine.producerAlive(run: "run_1", in: SessionID(welcome.session), now: harness.now)
        #expect(Self.silentTerminals(harness.runTimers(until: harness.now + 9_999)).isEmpty)
        #expect(Self.silentTerminals(harness.runTimers(until: harness.now + 2)).count == 1)
    }

    @Test("the terminal goes out past a full queue, and a call the agent left open is not charged to delivery")
    func fullQueueAndOpenCall() throws {
        var harness = ReconcilerHarness {
            $0.runIdleTimeoutMs = 1_000
            $0.window = 1
            $0.maxQueuedEvents = 2
        }
        let (connection, welcome) = harness.connect()
        _ = harness.emit("agent_started", to: welcome.session)
        _ = harness.emit("tool_executing", payload: #"{"call":"c1","tool":"search"}"#, to: welcome.session)
        _ = harness.emit("agent_thinking", payload: #"{"text":"hm"}"#, to: welcome.session)
        _ = harness.runTimers(until: harness.now + 1_000)
        #expect(harness.machine.retainedEventCount == 4, "three events and the terminal, one past the bound")
        for seq in Seq(1)...4 { _ = harness.ack(receipt: set(seq), on: connection) }
        let run = try #require(harness.report().runs.first { $0.run == "run_1" })
        #expect(run.terminalKind == "agent_failed" && run.endedBy == "agent_silent")
        #expect(run.failures.isEmpty, "tool_executing c1 died with its agent: no unpaired_call (\(run.failures))")
    }

    @Test("a producer's own agent_failed with reason agent_silent is its failure, not the server's: open calls count")
    func forgedSilenceIsNotTheServers() throws {
        var harness = ReconcilerHarness { $0.runIdleTimeoutMs = 60_000 }
        let (connection, welcome) = harness.connect()
        _ = harness.emit("agent_started", to: welcome.session)
        _ = harness.emit("tool_executing", payload: #"{"call":"c1","tool":"search"}"#, to: welcome.session)
        _ = harness.emit(
            "agent_failed", payload: #"{"error":"agent stopped responding","reason":"agent_silent"}"#,
            to: welcome.session)
        for seq in Seq(1)...3 { _ = harness.ack(receipt: set(seq), on: connection) }
        let run = try #require(harness.report().runs.first { $0.run == "run_1" })
        #expect(run.outcome == .failed && run.endedBy == nil)
        #expect(run.failures.contains { $0.code == "unpaired_call" }, "\(run.failures)")
    }

    @Test("a run the server ended stays ended by it after the session is rebuilt from its records (EA-DUR-3)")
    func endedBySurvivesRecovery() throws {
        var (a, session, storage) = try Self.nodeWithStartedRun(idleTimeoutMs: 1_000)
        a.persist(a.harness.runTimers(until: a.harness.now + 1_000))
        var b = SessionStoreTests.Node("b", storage: storage, seed: 2)
        b.harness.now = a.harness.now + 1
        b.persist(b.harness.machine.sessionLoaded(session, records: b.store.loadNow(session), now: b.harness.now))
        let run = try #require(b.harness.report().runs.first { $0.run == "run_1" })
        #expect(run.terminalKind == "agent_failed" && run.endedBy == "agent_silent")
    }

    @Test("a node that takes a session over ends its silent runs, with each run's own idle timeout (EA-RUN-2, § 15)")
    func endsAfterTakeover() throws {
        let (a, session, storage) = try Self.nodeWithStartedRun(idleTimeoutMs: 5_000)
        // Node a dies with the agent; node b loads the session when its client resumes there.
        var b = SessionStoreTests.Node("b", storage: storage, seed: 2)
        b.harness.now = a.harness.now + 1_000
        b.persist(b.harness.machine.sessionLoaded(session, records: b.store.loadNow(session), now: b.harness.now))
        let early = b.harness.runTimers(until: a.harness.now + 4_999)
        b.persist(early)
        #expect(
            Self.silentTerminals(early).isEmpty
                && !early.contains { action in
                    if case .persist(let records) = action {
                        return records.contains { if case .emitted = $0.change { true } else { false } }
                    }
                    return false
                })
        let late = b.harness.runTimers(until: a.harness.now + 5_000)
        b.persist(late)
        let recorded = late.flatMap { action -> [SessionRecord] in
            if case .persist(let records) = action { return records }
            return []
        }
        #expect(
            recorded.contains { record in
                if case .emitted(_, let run, let kind, _, _, let endsRun, _, _) = record.change {
                    return run == "run_1" && kind == "agent_failed" && endsRun
                }
                return false
            }, "node b ended the run, in the store")
    }
}
