import EventAckClient
import EventAckTesting
import Testing

@Suite("FailoverTransport")
struct FailoverTransportTests {
    @Test("a node that cannot be reached is skipped; the one that worked is tried first next time")
    func failsOverInTurn() async throws {
        let nodes = [InMemoryClientTransport(), InMemoryClientTransport(), InMemoryClientTransport()]
        let transport = FailoverTransport(nodes)
        _ = try await transport.connect(handingFramesTo: InboundFrames())
        #expect(transport.currentIndex == 0)
        nodes[0].refuseNextConnects(1)
        _ = try await transport.connect(handingFramesTo: InboundFrames())
        #expect(transport.currentIndex == 1, "node 0 refused: node 1 took the connection")
        _ = try await transport.connect(handingFramesTo: InboundFrames())
        #expect(transport.currentIndex == 1, "the node that worked stays first")
        for node in nodes { node.refuseNextConnects(1) }
        await #expect(throws: InMemoryTransportError.self) {
            try await transport.connect(handingFramesTo: InboundFrames())
        }
        #expect(transport.currentIndex == 2, "after a round of failures the next one is tried first")
        _ = try await transport.connect(handingFramesTo: InboundFrames())
        #expect(transport.currentIndex == 2)
    }
}
