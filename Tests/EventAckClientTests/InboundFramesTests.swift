@_spi(Shell) import EventAckProtocol
import EventAckTesting
import Testing

@testable import EventAckClient

/// Transports that hand frames straight to the client (`connect(handingFramesTo:)`), and the `events` stream
/// the client hands them on through.
@Suite("Inbound frames and deliveries", .timeLimit(.minutes(1)))
struct InboundFramesTests {
    let codec = MessageCodec()

    func burst(events count: Seq) -> [String] {
        var frames = [codec.encode(.welcome(Welcome(session: "s1", token: "t1", resumed: false, heartbeatMs: 60_000)))]
        for seq in 1...count {
            frames.append(
                codec.encode(
                    .event(
                        Event(seq: seq, run: "r1", kind: "agent_thinking", ts: 0, confirm: .receipt, payload: .empty))
                ))
        }
        return frames
    }

    /// A started client over `transport` with a clock that never moves.
    func startedClient(over transport: some ClientTransport) async -> EventAckClient {
        let client = EventAckClient(
            transport: transport, reconnect: ReconnectPolicy(baseMs: 0, capMs: 0), clock: ManualClock(), jitterSeed: 1)
        await client.start()
        return client
    }

    /// The seqs of the first `count` deliveries.
    func firstSeqs(_ count: Int, of client: EventAckClient) async -> [Seq] {
        var seen: [Seq] = []
        for await delivery in client.events {
            seen.append(delivery.event.seq)
            if seen.count == count { break }
        }
        return seen
    }

    @Test("FailoverTransport hands frames over through the node that connects; a refused node leaves them alone")
    func failoverHandsOver() async throws {
        let refusing = HandingTransport(frames: [], refuses: true)
        let working = HandingTransport(frames: burst(events: 3))
        let client = await startedClient(over: FailoverTransport([refusing, working]))
        #expect(await firstSeqs(3, of: client) == [1, 2, 3])
        #expect(refusing.handingConnects.withLock { $0 } == 1)
        #expect(working.handingConnects.withLock { $0 } == 1)
        _ = await client.close(timeoutMs: 0)
    }

    @Test("events hand out every delivery before they finish at close, across bursts")
    func eventsFinishAfterEverything() async throws {
        let transport = HandingTransport(frames: burst(events: 50))
        let client = await startedClient(over: transport)
        var iterator = client.events.makeAsyncIterator()
        var seen: [Seq] = []
        for _ in 0..<10 { if let delivery = await iterator.next() { seen.append(delivery.event.seq) } }
        // The rest of the burst is already delivered to the stream; closing must not drop it.
        var sent = transport.sent.makeAsyncIterator()
        while let text = await sent.next() {
            if case .ack(let ack) = try codec.decode(text), ack.receipt == AckSet(upTo: 50) { break }
        }
        _ = await client.close(timeoutMs: 0)
        while let delivery = await iterator.next() { seen.append(delivery.event.seq) }
        #expect(seen == Array(1...50))
    }
}

extension InboundFramesTests {
    @Test("frames waiting past the byte bound are refused: the transport is told to stop, what waits is still taken")
    func boundedHandOver() async throws {
        let inbound = InboundFrames(maxPendingBytes: 100)
        #expect(inbound.receive(String(repeating: "a", count: 60)))
        #expect(!inbound.receive(String(repeating: "b", count: 60)), "160 bytes would wait: refused")
        #expect(!inbound.receive("c"), "ended: nothing more is taken")
        #expect(inbound.didOverflow)
        let taken = await inbound.take()
        #expect(taken == [String(repeating: "a", count: 60)])
        #expect(await inbound.take() == nil)
    }

    @Test("a server that floods the client is cut and the client reconnects, saying why (bounded memory)")
    func floodIsCut() async throws {
        // 40 events of ~100 KB handed over at once: past the 2 MiB bound (the smallest allowed).
        var frames = [codec.encode(.welcome(Welcome(session: "s1", token: "t1", resumed: false, heartbeatMs: 60_000)))]
        let text = String(repeating: "x", count: 100_000)
        for seq in Seq(1)...40 {
            let payload = try Payload(json: #"{"text":"\#(text)"}"#)
            frames.append(
                codec.encode(
                    .event(
                        Event(seq: seq, run: "r1", kind: "agent_thinking", ts: 0, confirm: .receipt, payload: payload))
                ))
        }
        let transport = HandingTransport(frames: frames)
        let client = EventAckClient(
            transport: transport, configuration: ClientConfiguration(maxPendingInboundBytes: 1),
            // A real pause between connections: every connection here floods again, and a reconnect loop without
            // one would take a thread of the test process until the close.
            reconnect: ReconnectPolicy(baseMs: 20, capMs: 20), clock: SystemEventAckClock(), jitterSeed: 1)
        await client.start()
        var reason: String?
        var reconnected = false
        for await signal in client.signals {
            if case .disconnected(let why) = signal, reason == nil { reason = why }
            if case .connected = signal, reason != nil {
                reconnected = true
                break
            }
        }
        #expect(reason?.contains("faster than they could be processed") == true)
        #expect(reconnected, "the client connected again")
        #expect(transport.handingConnects.withLock { $0 } >= 2)
        _ = await client.close(timeoutMs: 0)
    }
}

/// A transport whose one connection hands a burst of frames to the client before `connect` returns, and records
/// what the client sends.
final class HandingTransport: ClientTransport {
    struct Connection: ClientConnection {
        let toTest: AsyncStream<String>.Continuation
        func send(_ text: String) async throws { toTest.yield(text) }
        func close() async { toTest.finish() }
    }

    let frames: [String]
    let refuses: Bool
    let sent: AsyncStream<String>
    private let toTest: AsyncStream<String>.Continuation
    let handingConnects = LockedState(0)

    init(frames: [String], refuses: Bool = false) {
        self.frames = frames
        self.refuses = refuses
        (sent, toTest) = AsyncStream.makeStream()
    }

    func connect(handingFramesTo inbound: InboundFrames) async throws -> any ClientConnection {
        handingConnects.withLock { $0 += 1 }
        if refuses { throw InMemoryTransportError.refused }
        for frame in frames { inbound.receive(frame) }
        return Connection(toTest: toTest)
    }
}
