import EventAckProtocol
import EventAckReconciler
import EventAckTesting
import Testing

/// A run id names one run in its session (EA-RUN-1): an emit for a run that ended is refused, never merged into it
/// and never the start of a second verdict for the same id — also after a recovery from the store.
@Suite("Run identity")
struct RunIdentityTests {
    static let run: [(kind: String, payload: String)] = [
        ("agent_started", "{}"), ("agent_completed", #"{"result":"r"}"#),
    ]

    /// Emits a whole run `run` to `session`; returns the last seq.
    @discardableResult
    static func emitRun(_ run: String, _ harness: inout ReconcilerHarness, to session: String) -> Seq {
        var last: Seq = 0
        for step in Self.run { last = harness.emit(step.kind, run: run, payload: step.payload, to: session).seq }
        return last
    }

    static func refusal(
        _ harness: inout ReconcilerHarness, kind: String = "agent_started", run: String = "run_1", to session: String
    ) -> ReconcilerError? {
        do {
            _ = try harness.machine.emit(
                run: run, kind: kind, payload: .empty, to: SessionID(session), now: harness.now)
            return nil
        } catch {
            return error
        }
    }

    @Test("an emit after the run's terminal event is refused with run_ended, while its events are still unconfirmed")
    func refusedAfterTerminal() {
        var harness = ReconcilerHarness()
        let (_, welcome) = harness.connect()
        Self.emitRun("run_1", &harness, to: welcome.session)
        #expect(Self.refusal(&harness, to: welcome.session)?.code == "run_ended")
        let report = harness.report()
        #expect(report.overall.refusedEmits == 1)
        #expect(report.overall.events == 2, "the refused event has no seq and is no event")
        #expect(report.runs.first { $0.run == "run_1" }?.failures.isEmpty == true, "the old run is not harmed")
    }

    @Test("an emit after the run's verdict is refused: one id, one verdict")
    func refusedAfterVerdict() {
        var harness = ReconcilerHarness()
        let (connection, welcome) = harness.connect()
        let last = Self.emitRun("run_1", &harness, to: welcome.session)
        let acked = harness.ack(receipt: set(last), on: connection)
        #expect(acked.finishedRuns.map(\.run) == ["run_1"])
        #expect(Self.refusal(&harness, to: welcome.session)?.code == "run_ended")
        #expect(throws: ReconcilerError.self) {
            try harness.machine.runRequested("run_1", in: SessionID(welcome.session), now: harness.now)
        }
        // Another run id is a new run; the same id in another session is that session's own run.
        #expect(Self.refusal(&harness, run: "run_2", to: welcome.session) == nil)
        let (_, other) = harness.connect("bob")
        #expect(Self.refusal(&harness, to: other.session) == nil)
        #expect(harness.report().runVerdicts["confirmed"] == 1)
    }

    @Test("an emit whose caller said it ends the run closes the run without a profile")
    func endsRunWithoutProfile() throws {
        var harness = ReconcilerHarness { $0.runProfile = nil }
        let (_, welcome) = harness.connect()
        _ = try harness.machine.emit(
            run: "r", kind: "done", payload: .empty, endsRun: true, to: SessionID(welcome.session), now: harness.now)
        #expect(Self.refusal(&harness, kind: "more", run: "r", to: welcome.session)?.code == "run_ended")
    }

    @Test("ended ids are remembered up to the configured bound, the oldest forgotten first (EA-MSG-14)")
    func bounded() {
        var harness = ReconcilerHarness { $0.endedRunsRemembered = 3 }
        let (connection, welcome) = harness.connect()
        var last: Seq = 0
        for index in 1...4 { last = Self.emitRun("run_\(index)", &harness, to: welcome.session) }
        _ = harness.ack(receipt: set(last), on: connection)
        #expect(Self.refusal(&harness, run: "run_1", to: welcome.session) == nil, "forgotten: beyond the bound")
        for index in 2...4 {
            #expect(Self.refusal(&harness, run: "run_\(index)", to: welcome.session)?.code == "run_ended")
        }
    }

    @Test("a session recovered from its records still refuses its ended runs (EA-RUN-1 with EA-DUR-3)")
    func survivesRecovery() throws {
        let storage = InMemorySessionStore.Storage()
        var a = SessionStoreTests.Node("a", storage: storage, seed: 1)
        let (connection, welcome) = a.openSession()
        for step in Self.run {
            a.persist(a.harness.emit(step.kind, payload: step.payload, to: welcome.session).actions)
        }
        a.persist(a.harness.ack(receipt: set(2), on: connection))
        a.persist(a.harness.emit("agent_started", run: "run_2", to: welcome.session).actions)
        let session = SessionID(welcome.session)
        var b = SessionStoreTests.Node("b", storage: storage, seed: 2)
        b.persist(b.harness.machine.sessionLoaded(session, records: b.store.loadNow(session), now: b.harness.now))
        var harness = b.harness
        #expect(Self.refusal(&harness, run: "run_1", to: welcome.session)?.code == "run_ended")
        #expect(
            Self.refusal(&harness, kind: "agent_thinking", run: "run_2", to: welcome.session) == nil,
            "run_2 is still open")
        #expect(storage.finishedRuns.map(\.run) == ["run_1"], "the recovery recorded no second verdict")
    }
}
