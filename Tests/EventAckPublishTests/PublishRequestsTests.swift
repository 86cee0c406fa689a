import EventAckProtocol
import EventAckPublish
import EventAckReconciler
import Testing

/// Request bodies of the publish API: what is taken, and the JSON path of what is not.
@Suite("Publish requests")
struct PublishRequestsTests {
    static func refusal(_ body: String, maxFrameBytes: Int = 1 << 20) -> PublishError? {
        do {
            _ = try PublishedEvent.list(body: body, run: "r", maxFrameBytes: maxFrameBytes)
            return nil
        } catch {
            return error
        }
    }

    @Test(
        "a bad event refuses the request with the protocol's code and its JSON path (EA-PUB-4)",
        arguments: [
            (
                #"{"events":[{"id":"a","kind":"k"},{"id":"b","kind":"k","payload":[1]}]}"#, "invalid_message",
                "$.events[1].payload"
            ),
            (#"{"events":[{"id":"a","kind":""}]}"#, "invalid_message", "$.events[0].kind"),
            (#"{"events":[{"id":"a b","kind":"k"}]}"#, "invalid_request", "$.events[0].id"),
            (#"{"events":[{"id":"a","kind":"k","confirm":"read"}]}"#, "invalid_message", "$.events[0].confirm"),
            (#"{"events":[{"id":"a","kind":"k","endsRun":"yes"}]}"#, "invalid_message", "$.events[0].endsRun"),
            (#"{"events":[]}"#, "invalid_request", "$.events"),
            (#"{"events":[1]}"#, "invalid_request", "$.events[0]"),
            (#"[1]"#, "invalid_message", "$"),
            (#"{"events":"#, "malformed_json", "$"),
        ])
    func refusedWithPath(body: String, code: String, path: String) {
        let error = Self.refusal(body)
        #expect(error?.status == 400)
        #expect(error?.code == code)
        #expect(error?.path == path)
    }

    @Test("an id twice in one request is a conflict; an event over the frame limit is frame_too_large (EA-PUB-4)")
    func conflictsAndSize() {
        let twice = Self.refusal(#"{"events":[{"id":"a","kind":"k"},{"id":"a","kind":"k"}]}"#)
        #expect(twice?.status == 409 && twice?.code == "id_conflict" && twice?.path == "$.events[1].id")
        let big = #"{"events":[{"id":"a","kind":"k","payload":{"text":"\#(String(repeating: "x", count: 2_000))"}}]}"#
        #expect(Self.refusal(big, maxFrameBytes: 1_000)?.code == "frame_too_large")
        #expect(Self.refusal(big, maxFrameBytes: 1 << 20) == nil)
    }

    @Test("opening a run: a session or a principal, not both; bounds on the idle timeout (EA-PUB-3)")
    func openRun() throws {
        #expect(try OpenRunRequest(body: #"{"principal":"alice"}"#).idleTimeoutMs == 60_000)
        let full = try OpenRunRequest(
            body: #"{"session":"s_1","run":"r.1:x-y_z","idleTimeoutMs":1000,"requestedAt":5}"#)
        #expect(full.audience == .session(SessionID("s_1")) && full.run == "r.1:x-y_z" && full.requestedAt == 5)
        for body in [
            #"{"principal":"a","session":"s"}"#, #"{}"#, #"{"principal":"a","idleTimeoutMs":999}"#,
            #"{"principal":"a","run":"has/slash"}"#, #"{"principal":"a","run":""}"#, #"{"principal":3}"#,
            #"{"principal":"a","idleTimeoutMs":1.5}"#,
        ] {
            #expect(throws: PublishError.self, "\(body)") { try OpenRunRequest(body: body) }
        }
    }

    @Test("JSON values compare as values: member order and number spelling do not matter")
    func sameValue() throws {
        let a = try JSONValue(parsingObject: #"{"a":1,"b":[true,{"c":"x"}]}"#)
        let b = try JSONValue(parsingObject: #"{"b":[true,{"c":"x"}],"a":1.0}"#)
        let c = try JSONValue(parsingObject: #"{"b":[{"c":"x"},true],"a":1}"#)
        #expect(a.isSameValue(as: b))
        #expect(!a.isSameValue(as: c), "array order matters")
        #expect(try JSONValue(parsingObject: a.jsonText) == a, "jsonText reads back as the same value")
        #expect(try JSONValue(parsingObject: #"{"s":"q\"\n"}"#).jsonText == #"{"s":"q\"\n"}"#)
    }
}
