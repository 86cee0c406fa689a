import EventAckClient
import EventAckProtocol
import EventAckReconciler
import EventAckTesting
import Foundation
import Synchronization
import Testing

/// Durable sessions (§ 15): write-ahead records, recovery on another node, ownership and its fence.
@Suite("Session store")
struct SessionStoreTests {
    /// A node: a writing-ahead reconciler whose records go to `storage` as the service would write them.
    struct Node {
        var harness: ReconcilerHarness
        let store: InMemorySessionStore

        init(_ name: String, storage: InMemorySessionStore.Storage, seed: UInt64) {
            harness = ReconcilerHarness(seed: seed, writesAhead: true) { $0.heartbeatMs = 3_600_000 }
            store = InMemorySessionStore(storage: storage, node: name)
        }

        /// Opens a session on a new connection, its records persisted.
        mutating func openSession() -> (ConnectionID, Welcome) {
            let connection = harness.open()
            let opened = harness.receive(ReconcilerHarness.hello(), on: connection)
            persist(opened)
            return (connection, opened.welcomes[0])
        }

        /// Persists what the actions ask for; returns the sessions the store refused.
        @discardableResult
        func persist(_ actions: [ReconcilerAction]) -> Set<SessionID> {
            var fenced: Set<SessionID> = []
            for case .persist(let records) in actions { fenced.formUnion(store.appendNow(records, commit: .random())) }
            return fenced
        }
    }

    @Test("every action that depends on a change comes after the change's records (write-ahead, EA-DUR-2)")
    func writeAheadOrder() {
        let storage = InMemorySessionStore.Storage()
        var node = Node("a", storage: storage, seed: 1)
        let connection = node.harness.open()
        let hello = node.harness.receive(ReconcilerHarness.hello(), on: connection)
        guard case .persist(let opened)? = hello.first else {
            Issue.record("the welcome is not preceded by its record: \(hello)")
            return
        }
        #expect(opened.map(\.kind) == ["opened"])
        let session = hello.welcomes[0].session
        let emission = node.harness.emit("agent_started", to: session)
        guard case .persist(let emitted)? = emission.actions.first else {
            Issue.record("the event is sent before its record: \(emission.actions)")
            return
        }
        #expect(emitted.map(\.kind) == ["emitted"])
        #expect(emission.actions.events.map(\.seq) == [1])
        let ack = node.harness.ack(receipt: set(1), on: connection)
        #expect(ack.first.map { if case .persist = $0 { true } else { false } } == true)
    }

    @Test("a session is recovered on another node from its records: resumed, unacknowledged events replayed (EA-DUR-3)")
    func recoveryOnAnotherNode() throws {
        let storage = InMemorySessionStore.Storage()
        var a = Node("a", storage: storage, seed: 1)
        let (connection, welcome) = a.openSession()
        for kind in ["agent_started", "agent_thinking", "agent_thinking"] {
            a.persist(a.harness.emit(kind, payload: #"{"text":"t"}"#, confirm: .display, to: welcome.session).actions)
        }
        a.persist(a.harness.ack(receipt: set(2), display: set(1), on: connection))
        // Node a dies here. Node b knows nothing of the session until the client resumes there.
        var b = Node("b", storage: storage, seed: 2)
        let again = b.harness.open()
        let resume = ResumeRequest(session: welcome.session, token: welcome.token, receipt: set(2))
        let asked = b.harness.receive(ReconcilerHarness.hello(resume: resume), on: again)
        #expect(asked == [.load(SessionID(welcome.session))])
        let loaded = b.harness.machine.sessionLoaded(
            SessionID(welcome.session), records: b.store.loadNow(SessionID(welcome.session)), now: b.harness.now)
        #expect(b.persist(loaded).isEmpty)
        let resumed = try #require(loaded.welcomes.first)
        #expect(resumed.resumed)
        #expect(resumed.session == welcome.session)
        #expect(loaded.events.map(\.seq) == [3], "seq 3 was never receipt-acknowledged")
        #expect(storage.owner(of: SessionID(welcome.session)) == "b")
        // The recovered session goes on: the client confirms, the run's figures include what node a saw.
        b.persist(b.harness.ack(receipt: set(3), display: set(3), on: again))
        let stats = b.harness.report().overall
        #expect(stats.events == 3)
        #expect(stats.display.confirmedAtRequestedLevel == 3)
    }

    @Test("events sent before a crash but never acked: the resume receipt names them, they count as sent (EA-DUR-3)")
    func resumeReceiptNamesEventsSentBeforeTheCrash() throws {
        let storage = InMemorySessionStore.Storage()
        var a = Node("a", storage: storage, seed: 1)
        let (connection, welcome) = a.openSession()
        for kind in ["agent_started", "agent_thinking", "agent_thinking"] {
            let emitted = a.harness.emit(kind, to: welcome.session).actions
            #expect(emitted.events.count == 1, "sent at once")
            a.persist(emitted)
        }
        a.persist(a.harness.ack(receipt: set(1), on: connection))
        // Node a dies with 2 and 3 sent, their acks lost. Node b recovers the session: it cannot know they were sent.
        var b = Node("b", storage: storage, seed: 2)
        let again = b.harness.open()
        let resume = ResumeRequest(session: welcome.session, token: welcome.token, receipt: set(3))
        _ = b.harness.receive(ReconcilerHarness.hello(resume: resume), on: again)
        let loaded = b.harness.machine.sessionLoaded(
            SessionID(welcome.session), records: b.store.loadNow(SessionID(welcome.session)), now: b.harness.now)
        b.persist(loaded)
        #expect(loaded.welcomes.first?.resumed == true)
        #expect(loaded.errors.isEmpty, "the receipt names what node a sent: \(loaded.errors)")
        #expect(loaded.events.isEmpty, "nothing is sent again: the client has 1…3")
        #expect(b.harness.report().overall.receipt.confirmed == 3)
        // A seq never emitted is still refused.
        var c = Node("c", storage: storage, seed: 3)
        let third = c.harness.open()
        let tokenAfterB = try #require(loaded.welcomes.first?.token)
        let bogus = ResumeRequest(session: welcome.session, token: tokenAfterB, receipt: set(9))
        _ = c.harness.receive(ReconcilerHarness.hello(resume: bogus), on: third)
        let reloaded = c.harness.machine.sessionLoaded(
            SessionID(welcome.session), records: c.store.loadNow(SessionID(welcome.session)), now: c.harness.now)
        #expect(reloaded.errors.map(\.code) == [.ackUnknownSeq])
    }

    @Test("when a run was requested is recorded once and survives recovery: request SLOs measure from it")
    func runRequestSurvivesRecovery() throws {
        let storage = InMemorySessionStore.Storage()
        var a = Node("a", storage: storage, seed: 1)
        let (_, welcome) = a.openSession()
        let session = SessionID(welcome.session)
        let requestedAt = a.harness.now
        let first = try a.harness.machine.runRequested("run_1", in: session, now: requestedAt)
        guard case .persist(let records)? = first.first else {
            Issue.record("no record of the request: \(first)")
            return
        }
        #expect(records.map(\.change) == [.runRequested(run: "run_1", at: requestedAt)])
        a.persist(first)
        let again = try a.harness.machine.runRequested("run_1", in: session, now: requestedAt + 5)
        #expect(again.isEmpty, "a second request of the same run changes nothing")
        a.persist(a.harness.emit("agent_started", to: welcome.session).actions)
        // Node a dies; node b recovers the session and the run ends there.
        var b = Node("b", storage: storage, seed: 2)
        let connection = b.harness.open()
        let resume = ResumeRequest(session: welcome.session, token: welcome.token, receipt: AckSet())
        _ = b.harness.receive(ReconcilerHarness.hello(resume: resume), on: connection)
        b.persist(b.harness.machine.sessionLoaded(session, records: b.store.loadNow(session), now: b.harness.now))
        b.persist(b.harness.emit("agent_completed", to: welcome.session).actions)
        b.persist(b.harness.ack(receipt: set(2), on: connection))
        let finished = try #require(storage.finishedRuns.first { $0.run == "run_1" })
        #expect(finished.requestedAt == requestedAt)
    }

    @Test("the node a session moved away from is fenced: its writes are refused and it lets the session go (EA-DUR-4)")
    func fencing() throws {
        let storage = InMemorySessionStore.Storage()
        var a = Node("a", storage: storage, seed: 1)
        let (connection, welcome) = a.openSession()
        let id = SessionID(welcome.session)
        // The client, cut off from a, resumes on b while a still holds the session.
        var b = Node("b", storage: storage, seed: 2)
        let other = b.harness.open()
        _ = b.harness.receive(
            ReconcilerHarness.hello(
                resume: ResumeRequest(session: welcome.session, token: welcome.token, receipt: AckSet())), on: other)
        b.persist(b.harness.machine.sessionLoaded(id, records: b.store.loadNow(id), now: b.harness.now))
        #expect(storage.owner(of: id) == "b")
        // An agent on a still emits to its stale copy: the store refuses, and a drops the session.
        let stale = a.harness.emit("agent_started", to: welcome.session)
        let fenced = a.persist(stale.actions)
        #expect(fenced == [id])
        let lost = a.harness.machine.sessionsLost(fenced, now: a.harness.now)
        #expect(lost.contains { if case .close(connection, _) = $0 { true } else { false } })
        #expect(!a.harness.machine.holds(id))
        #expect(storage.sessionCount == 1)
    }

    @Test(
        "a resume the store does not know, or with a wrong token, is refused and takes nothing over (EA-ISO-4, EA-DUR-4)"
    )
    func refusedAfterLoading() {
        let storage = InMemorySessionStore.Storage()
        var a = Node("a", storage: storage, seed: 1)
        let (_, welcome) = a.openSession()
        var b = Node("b", storage: storage, seed: 2)
        for (session, token) in [(welcome.session, "t_wrong"), ("s_unknown", welcome.token)] {
            let attempt = b.harness.open("alice")
            let asked = b.harness.receive(
                ReconcilerHarness.hello(resume: ResumeRequest(session: session, token: token, receipt: AckSet())),
                on: attempt)
            #expect(asked == [.load(SessionID(session))])
            let answer = b.harness.machine.sessionLoaded(
                SessionID(session), records: b.store.loadNow(SessionID(session)), now: b.harness.now)
            #expect(answer.errors.map(\.code) == [.resumeRejected])
            #expect(answer.welcomes.first?.resumed == false)
        }
        #expect(storage.owner(of: SessionID(welcome.session)) == "a", "a refused resume takes nothing over")
    }

    @Test("a forwarded emit's request id travels with the event's record, for the store to retire it (EA-DUR-5)")
    func forwardedOrigin() throws {
        var harness = ReconcilerHarness(writesAhead: true)
        let connection = harness.open()
        let session = harness.receive(ReconcilerHarness.hello(), on: connection).welcomes[0].session
        let emission = try harness.machine.emit(
            run: "run_1", kind: "agent_started", to: SessionID(session), origin: "42", now: harness.now)
        guard case .persist(let records)? = emission.actions.first,
            case .emitted(let seq, _, _, _, _, _, _, let origin)? = records.first?.change
        else {
            Issue.record("no emitted record first: \(emission.actions)")
            return
        }
        #expect(seq == emission.seq)
        #expect(origin == "42")
        let local = try harness.machine.emit(
            run: "run_1", kind: "agent_thinking", to: SessionID(session), now: harness.now)
        guard case .persist(let more)? = local.actions.first,
            case .emitted(_, _, _, _, _, _, _, let none)? = more.first?.change
        else {
            Issue.record("no emitted record first: \(local.actions)")
            return
        }
        #expect(none == nil, "a local emit retires nothing")
    }

    @Test("records of every kind survive JSON: what EA-DUR-1 persists")
    func recordsRoundTrip() throws {
        var harness = ReconcilerHarness(writesAhead: true)
        var records: [SessionRecord] = []
        func keep(_ actions: [ReconcilerAction]) {
            for case .persist(let written) in actions { records += written }
        }
        let connection = harness.open()
        let opened = harness.receive(ReconcilerHarness.hello(), on: connection)
        keep(opened)
        let session = opened.welcomes[0].session
        keep(harness.emit("agent_started", payload: #"{"a":[1,"\u2028"]}"#, confirm: .display, to: session).actions)
        keep(harness.emit("agent_completed", payload: #"{"text":"done"}"#, to: session).actions)
        keep(harness.ack(receipt: set(2), on: connection))
        keep(harness.receive(.nack(Nack(seq: 1, level: .display, reason: "render_failed")), on: connection))
        records.append(
            SessionRecord(
                session: SessionID(session),
                change: .resumed(
                    token: "t_2", previousToken: "t_1", previousValidUntil: 9, version: .initial, window: 8, at: 2)))
        records.append(SessionRecord(session: SessionID(session), change: .ended(at: 6)))
        records.append(SessionRecord(session: SessionID(session), change: .runRequested(run: "run_2", at: 7)))
        #expect(
            Set(records.map(\.kind)) == [
                "opened", "emitted", "confirmed", "failed", "runFinished", "resumed", "ended", "runRequested",
            ])
        for record in records {
            let data = try JSONEncoder().encode(record)
            #expect(try JSONDecoder().decode(SessionRecord.self, from: data) == record)
            // The direct writer stores use must be read back by the same Codable conformance.
            #expect(try JSONDecoder().decode(SessionRecord.self, from: Data(record.json().utf8)) == record)
        }
        let array = SessionRecord.jsonArray(records)
        #expect(try JSONDecoder().decode([SessionRecord].self, from: Data(array.utf8)) == records)
        #expect(SessionRecord.jsonArray([]) == "[]")
        // Grouped by session: each group is its session's records, in order, and sessions keep their first order.
        let other = SessionID("s_other")
        let mixed = [records[0], SessionRecord(session: other, change: .ended(at: 1)), records[1], records[2]]
        let groups = SessionRecord.jsonArraysBySession(mixed)
        #expect(groups.map(\.session) == [SessionID(session), other])
        #expect(try JSONDecoder().decode([SessionRecord].self, from: Data(groups[0].json)) == Array(records[0...2]))
        #expect(try JSONDecoder().decode([SessionRecord].self, from: Data(groups[1].json)) == [mixed[1]])
        #expect(SessionRecord.jsonArraysBySession([]).isEmpty)
    }

    @Test("the direct JSON writer escapes what JSON requires, member for member like Codable")
    func recordJSONEscapes() throws {
        let awkward = "q\"b\\s\n\r\t\u{01}\u{1F}é😀/"
        let records = [
            SessionRecord(
                session: SessionID(awkward),
                change: .opened(principal: awkward, token: "t\"", version: .initial, window: 3, at: 1)),
            SessionRecord(
                session: SessionID("s"),
                change: .emitted(
                    seq: 1, run: awkward, kind: "k", ts: UInt64(ProtocolLimits.maxInteger), confirm: .value,
                    endsRun: true, payload: try Payload(json: #"{"t":"a\"b\n"}"#), origin: "42")),
            SessionRecord(
                session: SessionID("s"),
                change: .confirmed(level: .display, seqs: try AckSet(upTo: 2, ranges: [4...5, 7...7]), at: 0)),
            SessionRecord(session: SessionID("s"), change: .failed(seq: 9, reason: .valueTimeout, at: 3)),
        ]
        for record in records {
            let text = record.json()
            #expect(try JSONDecoder().decode(SessionRecord.self, from: Data(text.utf8)) == record)
            // Same members as JSONEncoder writes (its key order and escapes of "/" may differ).
            let direct = try JSONSerialization.jsonObject(with: Data(text.utf8)) as? NSDictionary
            let codable = try JSONSerialization.jsonObject(with: JSONEncoder().encode(record)) as? NSDictionary
            #expect(direct != nil && direct == codable)
        }
    }
}
