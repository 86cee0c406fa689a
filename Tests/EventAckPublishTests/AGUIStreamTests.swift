import EventAckProtocol
import EventAckPublish
import EventAckReconciler
import Testing

/// The AG-UI gateway's rules, with no I/O (§ 13.1; issue 26).
@Suite("AG-UI stream")
struct AGUIStreamTests {
    static let run: [String] = [
        #"{"type":"RUN_STARTED","threadId":"t","runId":"r"}"#,
        #"{"type":"TEXT_MESSAGE_START","messageId":"m1","role":"assistant"}"#,
        #"{"type":"TEXT_MESSAGE_CONTENT","messageId":"m1","delta":"Hel"}"#,
        #"{"type":"TEXT_MESSAGE_CONTENT","messageId":"m1","delta":"lo"}"#,
        #"{"type":"TEXT_MESSAGE_END","messageId":"m1"}"#,
        #"{"type":"RUN_FINISHED","threadId":"t","runId":"r"}"#,
    ]

    /// The kinds an action list publishes, and the failure it ends with, if any.
    static func summary(_ actions: [AGUIStream.Action]) -> (kinds: [String], ids: [String], failure: String?) {
        var kinds: [String] = []
        var ids: [String] = []
        var failure: String?
        for action in actions {
            switch action {
            case .publish(let id, let event):
                ids.append(id)
                if case .string(let kind)? = event["kind"] { kinds.append(kind) }
            case .fail(let reason, _): failure = reason
            case .finished, .ignore: break
            }
        }
        return (kinds, ids, failure)
    }

    @Test("a sound stream: every event published in order with ids the gateway assigns, then finished (EA-PUB-14)")
    func soundStream() {
        var stream = AGUIStream(run: "r")
        var actions = Self.run.map { stream.received($0) }
        actions.append(stream.streamEnded())
        let (kinds, ids, failure) = Self.summary(actions)
        #expect(
            kinds == [
                "RUN_STARTED", "TEXT_MESSAGE_START", "TEXT_MESSAGE_CONTENT", "TEXT_MESSAGE_CONTENT",
                "TEXT_MESSAGE_END", "RUN_FINISHED",
            ])
        #expect(ids == (1...6).map { "r:\($0)" })
        #expect(failure == nil && actions.last == .finished)
    }

    @Test(
        "an event the profile refuses is not published; the run ends with the server's RUN_ERROR and its reason (EA-AGUI-1)"
    )
    func refusedEvent() {
        var stream = AGUIStream(run: "r")
        var actions = [Self.run[0], #"{"type":"TEXT_MESSAGE_CONTENT","messageId":"m9","delta":"x"}"#, Self.run[1]]
            .map { stream.received($0) }
        actions.append(stream.streamEnded())
        let (kinds, _, failure) = Self.summary(actions)
        #expect(kinds == ["RUN_STARTED"], "nothing after the refused event")
        #expect(failure == "unpaired_call")
        guard case .fail(_, let event) = actions[1] else {
            Issue.record("the refused event did not end the run: \(actions[1])")
            return
        }
        #expect(event["kind"] == .string("RUN_ERROR") && event["endsRun"] == .bool(true))
        #expect(event["payload"]?["code"] == .string("unpaired_call"))
        #expect(actions[2] == .ignore && actions[3] == .finished)
    }

    @Test("RUN_FINISHED with a message still open is refused, as AG-UI's verifier refuses it")
    func finishedTooEarly() {
        var stream = AGUIStream(run: "r")
        let actions = Self.run.prefix(3).map { stream.received($0) } + [stream.received(Self.run[5])]
        #expect(Self.summary(actions).failure == "unpaired_call")
        #expect(Self.summary(actions).kinds.count == 3)
    }

    @Test(
        "a stream that ends before its terminal, an HTTP error and a non-AG-UI event fail the run agent_stream_failed")
    func brokenStreams() {
        var cut = AGUIStream(run: "r")
        _ = Self.run.prefix(3).map { cut.received($0) }
        #expect(Self.summary([cut.streamEnded()]).failure == AGUIStream.Reason.streamFailed)
        var refused = AGUIStream(run: "r")
        #expect(Self.summary([refused.agentFailed("HTTP 500")]).failure == AGUIStream.Reason.streamFailed)
        #expect(refused.streamEnded() == .finished, "the run is over once failed")
        var garbage = AGUIStream(run: "r")
        #expect(Self.summary([garbage.received(#"{"hello":1}"#)]).failure == AGUIStream.Reason.streamFailed)
    }
}
