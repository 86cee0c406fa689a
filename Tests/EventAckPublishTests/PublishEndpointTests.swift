import EventAckProtocol
import EventAckPublish
import EventAckReconciler
import Testing

/// The endpoint's answers as an HTTP host writes them: statuses, refusal bodies, a run's view.
@Suite("Publish endpoint", .timeLimit(.minutes(1)))
struct PublishEndpointTests {
    /// The answer's body as JSON.
    static func json(_ reply: PublishReply) throws -> JSONValue { try JSONValue(parsingObject: reply.body) }

    /// Runs `body` with an endpoint over a service that `alice`'s confirming client is connected to, then stops them.
    static func withAlice(
        _ body: (PublishService, PublishEndpoint, PublishServiceTests.Seen) async throws -> Void
    ) async throws {
        let (service, publish, transport, acceptor) = PublishServiceTests.serving()
        let (_, seen, consumer) = await PublishServiceTests.confirmingClient(over: transport)
        defer {
            consumer.cancel()
            acceptor.cancel()
            publish.stop()
            service.shutdown()
        }
        #expect(await PublishServiceTests.eventually { service.sessions(of: "alice").count == 1 })
        try await body(publish, PublishEndpoint(publish: publish), seen)
    }

    @Test("a refusal is {error, message} with the JSON path of what broke a rule (EA-PUB-2, EA-PUB-12)")
    func refusals() async throws {
        let (service, publish, transport, acceptor) = PublishServiceTests.serving()
        let endpoint = PublishEndpoint(publish: publish)
        let badRun = await endpoint.performHere(.open(body: #"{"principal":"alice","run":"has space"}"#))
        #expect(badRun.status == 400)
        #expect(try Self.json(badRun)["path"] == .string("$.run"), "\(badRun.body)")
        #expect(try Self.json(badRun)["error"] == .string("invalid_request"))
        let unknown = await endpoint.performHere(.events(run: "nope", body: #"{"events":[]}"#, waitMs: 0))
        #expect(unknown.status == 400 || unknown.status == 404, "\(unknown.body)")
        let missing = await endpoint.performHere(.view(run: "nope"))
        #expect(try missing.status == 404 && Self.json(missing)["error"] == .string("unknown_run"))
        let longWait = await endpoint.performHere(.events(run: "nope", body: "{}", waitMs: 30_001))
        #expect(try longWait.status == 400 && Self.json(longWait)["path"] == .string("waitMs"))
        let nobody = await endpoint.performHere(.open(body: #"{"principal":"zed"}"#))
        #expect(try nobody.status == 404 && Self.json(nobody)["error"] == .string("no_session"))
        acceptor.cancel()
        publish.stop()
        service.shutdown()
        _ = transport
    }

    @Test(
        "progress answers 204 until the run ends, then 409 run_ended; the run's view counts what it took (EA-PUB-8, EA-PUB-10)"
    )
    func progressAndView() async throws {
        try await Self.withAlice { _, endpoint, seen in try await Self.progressAndView(endpoint, seen) }
    }

    static func progressAndView(_ endpoint: PublishEndpoint, _ seen: PublishServiceTests.Seen) async throws {
        #expect(await endpoint.performHere(.open(body: #"{"principal":"alice","run":"r"}"#)).status == 201)
        let first = #"{"events":[{"id":"1","kind":"agent_started"}]}"#
        #expect(await endpoint.performHere(.events(run: "r", body: first, waitMs: 1_000)).status == 200)
        #expect(await endpoint.performHere(.progress(run: "r", body: #"{"note":"working"}"#)).status == 204)
        #expect(await endpoint.performHere(.progress(run: "r", body: #"{"note":7}"#)).status == 400)
        let last = #"{"events":[{"id":"2","kind":"agent_completed","payload":{"result":"ok"}}]}"#
        #expect(await endpoint.performHere(.events(run: "r", body: last, waitMs: 1_000)).status == 200)
        let ended = await endpoint.performHere(.progress(run: "r", body: ""))
        #expect(try ended.status == 409 && Self.json(ended)["error"] == .string("run_ended"))
        #expect(await PublishServiceTests.eventually { seen.all == [1, 2] })
        let view = try Self.json(await endpoint.performHere(.view(run: "r")))
        #expect(view["state"] == .string("ended") && view["published"] == .number("2"), "\(view)")
        guard case .array(let reports)? = view["reports"] else {
            Issue.record("no reports in \(view)")
            return
        }
        #expect(reports.count == 1, "one session's report")
    }

    @Test(
        "a run opened with profile ag-ui is validated and ended by AG-UI's rules; an unknown profile is a 400 (EA-PUB-3)"
    )
    func agUIProfile() async throws {
        try await Self.withAlice { publish, endpoint, seen in try await Self.agUIProfile(publish, endpoint, seen) }
    }

    static func agUIProfile(
        _ publish: PublishService, _ endpoint: PublishEndpoint, _ seen: PublishServiceTests.Seen
    ) async throws {
        let unknown = await endpoint.performHere(.open(body: #"{"principal":"alice","run":"x","profile":"nope"}"#))
        #expect(try unknown.status == 400 && Self.json(unknown)["path"] == .string("$.profile"), "\(unknown.body)")
        let opened = await endpoint.performHere(
            .open(body: #"{"principal":"alice","run":"a","profile":"ag-ui","confirm":{"RUN_FINISHED":"value"}}"#))
        #expect(opened.status == 201)
        let events = #"""
            {"events":[{"id":"1","kind":"RUN_STARTED","payload":{"threadId":"t","runId":"a"}},
            {"id":"2","kind":"TEXT_MESSAGE_START","payload":{"messageId":"m1","role":"assistant"}},
            {"id":"3","kind":"TEXT_MESSAGE_CONTENT","payload":{"messageId":"m1","delta":"Hello"}},
            {"id":"4","kind":"TEXT_MESSAGE_END","payload":{"messageId":"m1"}},
            {"id":"5","kind":"RUN_FINISHED","payload":{"threadId":"t","runId":"a"}}]}
            """#
        #expect(await endpoint.performHere(.events(run: "a", body: events, waitMs: 1_000)).status == 200)
        #expect(await PublishServiceTests.eventually { seen.all == [1, 2, 3, 4, 5] })
        #expect(await PublishServiceTests.eventually { publish.feed(of: "a", after: 0)?.complete == true })
        let view = try Self.json(await endpoint.performHere(.view(run: "a")))
        #expect(view["state"] == .string("ended"), "RUN_FINISHED ends the run: \(view)")
        #expect(view["verdict"]?["verdict"] == .string("confirmed"), "\(view)")
        #expect(view["verdict"]?["outcome"] == .string("succeeded"), "\(view)")
        // Levels not given: the profile's for the kind (a message's end at display), the run's over them.
        var levels: [String: String] = [:]
        for item in publish.feed(of: "a", after: 0)?.items ?? [] {
            if case .confirmed(_, let id, _, _, let level, _) = item { levels[id] = level.rawValue }
        }
        #expect(levels == ["1": "receipt", "2": "receipt", "3": "receipt", "4": "display", "5": "value"], "\(levels)")
        let retry =
            #"{"events":[{"id":"4","kind":"TEXT_MESSAGE_END","payload":{"messageId":"m1"},"confirm":"display"}]}"#
        let again = try Self.json(await endpoint.performHere(.events(run: "a", body: retry, waitMs: 0)))
        guard case .array(let results)? = again["events"], let first = results.first else {
            Issue.record("no results in \(again)")
            return
        }
        #expect(first["duplicate"] == .bool(true), "the level written out is the same event: \(again)")
    }
}
