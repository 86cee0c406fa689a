import EventAckProtocol
import Testing

@testable import EventAckReconciler

/// One session's machine on its own, without a reconciler around it: what it says through the context it is
/// lent, and that its records rebuild it.
@Suite("Session machine")
struct SessionMachineTests {
    static let connection = ConnectionID(rawValue: 7)
    static let start: UInt64 = 1_763_712_000_000

    static func context(window: UInt64 = 2, writesAhead: Bool = false) -> SessionContext {
        var configuration = ReconcilerConfiguration()
        configuration.window = window
        configuration.retransmission.jitter = 0
        var context = SessionContext(
            configuration: configuration.normalized(), jitter: SplitMix64(seed: 1), writesAhead: writesAhead)
        context.connections[connection] = SessionContext.Connection(
            principal: "alice", openedAt: start, session: 1, lastReceivedAt: start, lastSentAt: start)
        return context
    }

    static func session(window: UInt64 = 2) -> SessionMachine {
        SessionMachine(
            key: 1, id: SessionID("s_1"), principal: "alice", token: "t_1", connection: connection, window: window,
            version: ProtocolVersion(major: 1, minor: 0), now: start)
    }

    @Test("the window holds a third event back; the receipt of the first sends it, and the ack is echoed once")
    func windowAndReceipt() throws {
        var context = Self.context()
        var session = Self.session()
        var now = Self.start
        for kind in ["agent_started", "agent_thinking", "agent_completed"] {
            _ = try session.emit(
                run: "r_1", kind: kind, payload: .empty, confirm: .receipt, endsRun: nil, origin: nil, now: now,
                context: &context)
        }
        let first = context.takeActions()
        #expect(first.events.map(\.seq) == [1, 2], "window 2: the third waits")
        #expect(first.allSatisfy { if case .send(_, let to) = $0 { to == Self.connection } else { true } })
        #expect(session.queuedCount == 1)

        now += 50
        session.confirmationsReceived(
            .ack(Ack(receipt: AckSet(1...1), display: nil, value: nil)), on: Self.connection, now: now,
            context: &context)
        let second = context.takeActions()
        #expect(second.events.map(\.seq) == [3])
        #expect(second.synceds.count == 1)
        #expect(second.synceds.first?.receipt?.contains(1) == true)
        #expect(session.inFlight == 2)
        #expect(context.book.overall.receipt.confirmed == 1)
    }

    @Test("a session rebuilt from its records holds what the live one held (confirmations, failures, runs)")
    func restoredFromRecords() throws {
        var harness = ReconcilerHarness(writesAhead: true) { $0.heartbeatMs = 3_600_000 }
        var records: [SessionRecord] = []
        func keep(_ actions: [ReconcilerAction]) {
            for case .persist(let batch) in actions { records += batch }
        }
        let connection = harness.open()
        let hello = harness.receive(ReconcilerHarness.hello(window: 16), on: connection)
        keep(hello)
        let session = hello.welcomes[0].session
        keep(harness.emit("agent_started", run: "r_1", to: session).actions)
        keep(harness.emit("tool_executing", run: "r_1", confirm: .display, to: session).actions)
        keep(harness.emit("agent_completed", run: "r_1", confirm: .value, to: session).actions)
        keep(harness.emit("agent_started", run: "r_2", confirm: .display, to: session).actions)
        keep(harness.emit("agent_thinking", run: "r_2", to: session).actions)
        harness.now += 10
        keep(harness.ack(receipt: set(3), display: set(2), on: connection))
        harness.now += 10
        keep(harness.ack(value: [3], on: connection))
        harness.now += 10
        keep(harness.receive(.nack(Nack(seq: 4, level: .display, reason: .renderFailed)), on: connection))

        let key = try #require(harness.machine.sessionKeys[SessionID(session)])
        let live = try #require(harness.machine.sessions[key])
        var context = Self.context(writesAhead: true)
        let restored = try #require(
            SessionMachine(restoring: records, key: 99, now: harness.now, context: &context))
        #expect(context.records.isEmpty, "replaying records records nothing again")
        #expect(context.actions.isEmpty, "replaying records says nothing")
        #expect(restored.id == live.id)
        #expect(restored.token == live.token)
        #expect(restored.nextSeq == live.nextSeq)
        #expect(restored.confirmedReceipt == live.confirmedReceipt)
        #expect(restored.confirmedDisplay == live.confirmedDisplay)
        #expect(restored.confirmedValue == live.confirmedValue)
        #expect(restored.resolved == live.resolved)
        #expect(restored.stats == live.stats)
        #expect(Set(restored.runIndexByID.keys) == Set(live.runIndexByID.keys))
        #expect(restored.connection == nil, "a rebuilt session waits for its resume")
        // Seq 5 was sent but is above everything confirmed or failed: taken as never sent (EA-DUR-3).
        #expect(restored.sendCursor == 5)
        #expect(restored.maybeSent == 5..<6)
    }
}
