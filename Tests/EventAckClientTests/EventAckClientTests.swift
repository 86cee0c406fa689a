import EventAckProtocol
import EventAckTesting
import Testing

@testable import EventAckClient

/// The shell over the in-memory transport with a manual clock: a scripted server on the other end.
@Suite("EventAckClient")
struct EventAckClientTests {
    let codec = MessageCodec()

    func event(_ seq: Seq, confirm: ConfirmationLevel = .display) -> Event {
        Event(seq: seq, run: "r1", kind: "agent_thinking", ts: 0, confirm: confirm, payload: .empty)
    }

    /// Reads client frames until one satisfies `match`.
    func expectFrame(
        from frames: inout AsyncThrowingStream<String, any Error>.AsyncIterator,
        _ match: (Message) -> Bool
    ) async throws -> Message? {
        while let text = try await frames.next() {
            let message = try codec.decode(text)
            if match(message) { return message }
        }
        return nil
    }

    @Test("connect, receive, confirm, lose the connection, resume: nothing lost or duplicated")
    func resumeEndToEnd() async throws {
        let transport = InMemoryClientTransport()
        let clock = ManualClock()
        let client = EventAckClient(
            transport: transport,
            // Acks on the timer only, so that the test decides when they go (drained acks: `ackWhenDrained`).
            configuration: ClientConfiguration(client: ClientInfo(name: "t", version: "1"), acksWhenDrained: false),
            reconnect: ReconnectPolicy(baseMs: 0, capMs: 0), clock: clock, jitterSeed: 1)
        await client.start()
        var servers = transport.accepted.makeAsyncIterator()
        var deliveries = client.events.makeAsyncIterator()

        // First connection: hello → welcome, events 1...3.
        let first = try #require(await servers.next())
        var firstFrames = first.inbound.makeAsyncIterator()
        let hello = try await expectFrame(from: &firstFrames) { $0.type == .hello }
        guard case .hello(let firstHello) = hello else { throw TestFailure("no hello") }
        #expect(firstHello.resume == nil)
        first.send(codec.encode(.welcome(Welcome(session: "s1", token: "t1", resumed: false, heartbeatMs: 60_000))))
        for seq in Seq(1)...3 { first.send(codec.encode(.event(event(seq)))) }
        var seen: [Seq] = []
        for _ in 0..<3 {
            let delivery = try #require(await deliveries.next())
            seen.append(delivery.event.seq)
            try await delivery.markDisplayed()
        }
        #expect(seen == [1, 2, 3])

        // Cut the connection before any ack could be sent: the display confirmations are retained.
        first.close()

        let second = try #require(await servers.next())
        var secondFrames = second.inbound.makeAsyncIterator()
        guard case .hello(let resumeHello) = try await expectFrame(from: &secondFrames, { $0.type == .hello }) else {
            throw TestFailure("no resume hello")
        }
        #expect(resumeHello.resume?.session == "s1")
        #expect(resumeHello.resume?.token == "t1")
        #expect(resumeHello.resume?.receipt == AckSet(upTo: 3))
        second.send(codec.encode(.welcome(Welcome(session: "s1", token: "t2", resumed: true, heartbeatMs: 60_000))))
        guard case .ack(let replayed) = try await expectFrame(from: &secondFrames, { $0.type == .ack }) else {
            throw TestFailure("no ack after resume")
        }
        #expect(replayed.receipt == AckSet(upTo: 3))
        #expect(replayed.display == AckSet(upTo: 3))

        // The server replays 3 (a duplicate) and continues with 4: only 4 is delivered.
        second.send(codec.encode(.event(event(3))))
        second.send(codec.encode(.event(event(4, confirm: .receipt))))
        let fourth = try #require(await deliveries.next())
        #expect(fourth.event.seq == 4)

        // The coalesced receipt ack goes out when the ack delay passes on the manual clock.
        clock.advance(to: 1_000)
        guard case .ack(let later) = try await expectFrame(from: &secondFrames, { $0.type == .ack }) else {
            throw TestFailure("no coalesced ack")
        }
        #expect(later.receipt == AckSet(upTo: 4))

        // close() flushes, and returns only once the server's synced covers everything (EA-BYE-2).
        let closing = Task { await client.close() }
        guard case .ack(let flushed) = try await expectFrame(from: &secondFrames, { $0.type == .ack }) else {
            throw TestFailure("no ack at close")
        }
        #expect(flushed.receipt == AckSet(upTo: 4))
        second.send(codec.encode(.synced(Synced(receipt: AckSet(upTo: 4), display: AckSet(upTo: 4)))))
        #expect(try await expectFrame(from: &secondFrames) { $0.type == .bye } == .bye(reason: "client closed"))
        let report = await closing.value
        #expect(report == CloseReport(isComplete: true, unsynced: [], unechoedReceipts: [], outstanding: []))
        #expect(await deliveries.next() == nil)
    }

    @Test(
        "a burst of events is acknowledged once drained, without waiting for the ack delay, coalesced (EA-DEL-3)",
        .timeLimit(.minutes(1)))
    func ackWhenDrained() async throws {
        // The transport hands the whole burst over before the client reads any of it.
        var burst = [codec.encode(.welcome(Welcome(session: "s1", token: "t1", resumed: false, heartbeatMs: 60_000)))]
        for seq in Seq(1)...10 { burst.append(codec.encode(.event(event(seq, confirm: .receipt)))) }
        let transport = HandingTransport(frames: burst)
        let client = EventAckClient(
            transport: transport, reconnect: ReconnectPolicy(baseMs: 0, capMs: 0), clock: ManualClock(), jitterSeed: 1)
        await client.start()
        var sent = transport.sent.makeAsyncIterator()
        // The clock never moves and the batch size (32) is not reached: only drained bursts send these acks.
        var acks: [Ack] = []
        while acks.last?.receipt != AckSet(upTo: 10), let text = await sent.next() {
            if case .ack(let ack) = try codec.decode(text) { acks.append(ack) }
        }
        // The whole burst was handed over before the client looked: one drained burst, one ack.
        #expect(acks.map(\.receipt) == [AckSet(upTo: 10)])
        _ = await client.close(timeoutMs: 0)
    }

    @Test("with acksWhenDrained off, a drained burst waits for the ack delay")
    func noAckWhenDrainedIfOff() async throws {
        var burst = [codec.encode(.welcome(Welcome(session: "s1", token: "t1", resumed: false, heartbeatMs: 60_000)))]
        for seq in Seq(1)...3 { burst.append(codec.encode(.event(event(seq, confirm: .receipt)))) }
        let transport = HandingTransport(frames: burst)
        let clock = ManualClock()
        let client = EventAckClient(
            transport: transport, configuration: ClientConfiguration(acksWhenDrained: false),
            reconnect: ReconnectPolicy(baseMs: 0, capMs: 0), clock: clock, jitterSeed: 1)
        await client.start()
        var deliveries = client.events.makeAsyncIterator()
        for _ in 0..<3 { _ = await deliveries.next() }
        var sent = transport.sent.makeAsyncIterator()
        #expect(try codec.decode(try #require(await sent.next())).type == .hello)
        clock.advance(to: 1_000)
        guard case .ack(let ack) = try codec.decode(try #require(await sent.next())) else {
            throw TestFailure("the first frame after hello is not the delayed ack")
        }
        #expect(ack.receipt == AckSet(upTo: 3))
        _ = await client.close(timeoutMs: 0)
    }

    @Test("close gives up after its timeout and reports what the server never echoed (EA-BYE-2)")
    func closeTimeout() async throws {
        let transport = InMemoryClientTransport()
        let clock = ManualClock()
        let client = EventAckClient(
            transport: transport, configuration: ClientConfiguration(acksWhenDrained: false, closeTimeoutMs: 2_000),
            reconnect: ReconnectPolicy(baseMs: 0, capMs: 0), clock: clock, jitterSeed: 1)
        await client.start()
        var servers = transport.accepted.makeAsyncIterator()
        var deliveries = client.events.makeAsyncIterator()
        let server = try #require(await servers.next())
        var frames = server.inbound.makeAsyncIterator()
        _ = try await expectFrame(from: &frames) { $0.type == .hello }
        server.send(codec.encode(.welcome(Welcome(session: "s1", token: "t1", resumed: false, heartbeatMs: 60_000))))
        server.send(codec.encode(.event(event(1))))
        let delivery = try #require(await deliveries.next())
        try await delivery.markDisplayed()
        let closing = Task { await client.close() }
        guard case .ack(let flushed) = try await expectFrame(from: &frames, { $0.type == .ack }) else {
            throw TestFailure("no ack at close")
        }
        #expect(flushed.display == AckSet(upTo: 1))
        // The server never answers: the close waits for its timeout, then says bye anyway.
        clock.advance(to: 2_000)
        #expect(try await expectFrame(from: &frames) { $0.type == .bye } == .bye(reason: "client closed"))
        let report = await closing.value
        #expect(report.isComplete == false)
        #expect(report.unsynced == [1])
        #expect(report.unechoedReceipts == [1...1])
    }

    @Test("a bounded reconnect policy signals each failed attempt, then gives up with a signal")
    func givingUp() async throws {
        let transport = InMemoryClientTransport()
        transport.refuseNextConnects(3)
        let client = EventAckClient(
            transport: transport, reconnect: ReconnectPolicy(baseMs: 0, capMs: 0, maxAttempts: 3),
            clock: ManualClock(), jitterSeed: 1)
        await client.start()
        var signals: [ClientSignal] = []
        for await signal in client.signals { signals.append(signal) }
        // Each failure that is retried says so; the last one gives up.
        #expect(signals.count == 3)
        #expect(signals.prefix(2).map(\.connectFailedAttempt) == [1, 2])
        guard case .gaveUp(let attempts, _) = signals.last else { throw TestFailure("no gaveUp: \(signals)") }
        #expect(attempts == 3)
    }

    @Test("backoff grows exponentially, is capped, and jitters within its upper half")
    func backoff() {
        let policy = ReconnectPolicy(baseMs: 100, capMs: 1_000)
        #expect(policy.delayMs(attempt: 0, random: 0) == 50)
        #expect(policy.delayMs(attempt: 0, random: 50) == 100)
        #expect(policy.delayMs(attempt: 2, random: 0) == 200)
        #expect(policy.delayMs(attempt: 10, random: 0) == 500)
        #expect(policy.delayMs(attempt: 70, random: UInt64.max) <= 1_000)
        for random in UInt64(0)..<200 {
            let delay = policy.delayMs(attempt: 3, random: random &* 7919)
            #expect((400...800).contains(delay))
        }
    }
}

struct TestFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

extension ClientSignal {
    /// The attempt a `connectFailed` signal counts; `nil` for any other signal.
    fileprivate var connectFailedAttempt: Int? {
        if case .connectFailed(let attempt, _) = self { return attempt }
        return nil
    }
}
