import EventAckProtocol
import Testing

@testable import EventAckClient

/// Confirmations, nacks and handshakes whose answer never comes (EA-SYNC-4, EA-HS-4).
@Suite("ClientStateMachine resends")
struct ClientResendTests {
    typealias Chains = ClientStateMachineTests

    private func acks(_ actions: [ClientAction]) -> [Ack] {
        actions.compactMap {
            if case .send(.ack(let ack)) = $0 { return ack }
            return nil
        }
    }

    private func nacks(_ actions: [ClientAction]) -> [Nack] {
        actions.compactMap {
            if case .send(.nack(let nack)) = $0 { return nack }
            return nil
        }
    }

    @Test("a display confirmation no synced covers is sent again after confirmationResendMs, until echoed")
    func displayResent() throws {
        var machine = Chains.connectedMachine(heartbeatMs: 60_000)
        _ = machine.messageReceived(.event(Chains.event(1, confirm: .display)), now: 0)
        _ = machine.timerFired(now: 20)
        let first = try machine.markDisplayed(1, now: 100)
        #expect(first.isEmpty, "coalesced: sent when the ack delay passes")
        #expect(acks(machine.timerFired(now: 120)).first?.display == Chains.receipt(upTo: 1))
        // The ack (or its synced) was lost: nothing more arrives.
        #expect(machine.nextDeadline == 3_120)
        #expect(acks(machine.timerFired(now: 3_119)).isEmpty)
        #expect(acks(machine.timerFired(now: 3_120)).first?.display == Chains.receipt(upTo: 1))
        // Echoed: no more resends.
        let echo = Synced(receipt: Chains.receipt(upTo: 1), display: Chains.receipt(upTo: 1), value: nil)
        _ = machine.messageReceived(.synced(echo), now: 3_200)
        #expect(acks(machine.timerFired(now: 6_120)).isEmpty)
        #expect((machine.nextDeadline ?? .max) > 6_120)
    }

    @Test("a nack is kept and sent again until a synced covers its seq at its level")
    func nackResent() throws {
        var machine = Chains.connectedMachine(heartbeatMs: 60_000)
        _ = machine.messageReceived(.event(Chains.event(1, confirm: .display)), now: 0)
        _ = machine.timerFired(now: 20)
        let sent = try machine.reject(1, level: .display, reason: .renderFailed, now: 50)
        #expect(nacks(sent).map(\.seq) == [1])
        #expect(nacks(machine.timerFired(now: 3_050)).map(\.reason) == [.renderFailed])
        // A synced covering seq 1 at receipt only says nothing about the display nack.
        let receiptOnly = Synced(receipt: Chains.receipt(upTo: 1), display: nil, value: nil)
        _ = machine.messageReceived(.synced(receiptOnly), now: 3_100)
        #expect(nacks(machine.timerFired(now: 6_050)).map(\.seq) == [1])
        let failed = Synced(receipt: Chains.receipt(upTo: 1), display: Chains.receipt(upTo: 1), value: nil)
        _ = machine.messageReceived(.synced(failed), now: 6_100)
        #expect(nacks(machine.timerFired(now: 9_050)).isEmpty)
    }

    @Test("a welcome that never comes closes the connection after handshakeTimeoutMs")
    func handshakeTimeout() {
        let configuration = ClientConfiguration(client: Chains.info, handshakeTimeoutMs: 5_000)
        var machine = ClientStateMachine(configuration: configuration)
        _ = machine.connected(now: 100)
        #expect(machine.nextDeadline == 5_100)
        #expect(machine.timerFired(now: 5_099).isEmpty)
        let actions = machine.timerFired(now: 5_100)
        #expect(actions.contains(.signal(.connectionDead(silentMs: 5_000))))
        #expect(actions.contains { if case .closeConnection = $0 { return true } else { return false } })
        #expect(machine.nextDeadline == nil)
    }
}
