import EventAckProtocol
import Foundation
import Testing

@testable import EventAckClient

/// A client process that restarts resumes its session from a saved snapshot (EA-RES-1, EA-RES-4, EA-DEL-1).
@Suite("ClientStateMachine snapshots")
struct ClientSnapshotTests {
    typealias Chains = ClientStateMachineTests

    /// A machine with events 1 (display, displayed), 2 (value, delivered), 4 (held above the hole at 3), a nack
    /// pending for 5… in short, every part of the state.
    static func busyMachine() throws -> ClientStateMachine {
        var machine = Chains.connectedMachine(heartbeatMs: 600_000)
        _ = machine.messageReceived(.event(Chains.event(1, confirm: .display)), now: 0)
        _ = machine.messageReceived(.event(Chains.event(2, confirm: .value)), now: 0)
        _ = machine.messageReceived(.event(Chains.event(4)), now: 0)
        _ = try machine.markDisplayed(1, now: 10)
        _ = try machine.confirmValue(2, signal: "up", score: 0.5, now: 10)
        return machine
    }

    @Test("a snapshot survives JSON and restores the same state")
    func roundTrip() throws {
        let machine = try Self.busyMachine()
        let snapshot = try #require(machine.snapshot)
        let data = try JSONEncoder().encode(snapshot)
        let decoded = try JSONDecoder().decode(ClientStateMachine.Snapshot.self, from: data)
        #expect(decoded == snapshot)
        #expect(String(decoding: data, as: UTF8.self).contains("eventack-client-snapshot"))
        let restored = ClientStateMachine(restoring: decoded)
        #expect(restored.snapshot == snapshot)
        #expect(restored.heldEventCount == 1)
        #expect(restored.sessionID == "s1")
    }

    @Test("no session, no snapshot; an unknown format or a seq twice is refused")
    func edges() throws {
        #expect(ClientStateMachine().snapshot == nil)
        let data = Data(#"{"format":"eventack-client-snapshot/9","session":"s"}"#.utf8)
        #expect(throws: DecodingError.self) { try JSONDecoder().decode(ClientStateMachine.Snapshot.self, from: data) }
        // A corrupted file holding an event twice must not reach the machine (it keys them by seq).
        let good = try JSONEncoder().encode(try #require(try Self.busyMachine().snapshot))
        var object = try #require(try JSONSerialization.jsonObject(with: good) as? [String: Any])
        let held = try #require((object["buffered"] as? [Any])?.first)
        object["buffered"] = [held, held]
        let corrupted = try JSONSerialization.data(withJSONObject: object)
        #expect(throws: DecodingError.self) {
            try JSONDecoder().decode(ClientStateMachine.Snapshot.self, from: corrupted)
        }
    }

    @Test("a restored machine resumes, re-sends unechoed confirmations, and delivers nothing twice")
    func resumeAfterRestart() throws {
        let snapshot = try #require(try Self.busyMachine().snapshot)
        var machine = ClientStateMachine(restoring: snapshot)
        let hello = machine.connected(now: 0)
        guard case .send(.hello(let message)) = hello.first else {
            Issue.record("no hello: \(hello)")
            return
        }
        #expect(message.resume?.session == "s1")
        #expect(message.resume?.token == "t1")
        #expect(message.resume?.receipt == Chains.receipt(upTo: 2, [4...4]))
        var welcome = Chains.welcome
        welcome.resumed = true
        welcome.token = "t2"
        let resumed = machine.messageReceived(.welcome(welcome), now: 1)
        let acks = resumed.compactMap { action -> Ack? in
            if case .send(.ack(let ack)) = action { return ack }
            return nil
        }
        #expect(acks.first?.display == Chains.receipt(upTo: 2))
        #expect(acks.first?.value?.map(\.seq) == [2])
        // The replay of 2 is a duplicate; 3 fills the hole and delivers 3 and the held 4, once each.
        let replay = machine.messageReceived(.event(Chains.event(2, confirm: .value)), now: 2)
        let filled = machine.messageReceived(.event(Chains.event(3)), now: 2)
        let delivered = (replay + filled).compactMap { action -> Seq? in
            if case .deliver(let event) = action { return event.seq }
            return nil
        }
        #expect(delivered == [3, 4])
        #expect(machine.outstanding().isEmpty)
    }
}
