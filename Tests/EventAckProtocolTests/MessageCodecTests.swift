import Testing

@testable import EventAckProtocol

@Suite("MessageCodec")
struct MessageCodecTests {
    let codec = MessageCodec()

    static let samples: [Message] = [
        .hello(Hello(client: ClientInfo(name: "eventack-swift", version: "1.0.0"))),
        .hello(
            Hello(
                versions: [ProtocolVersion(major: 1, minor: 0), ProtocolVersion(major: 2, minor: 3)],
                client: ClientInfo(name: "tester", version: "0.1"),
                window: 64,
                resume: ResumeRequest(session: "s_1", token: "t_secret", receipt: try! AckSet(upTo: 4, ranges: [6...7]))
            )),
        .welcome(Welcome(session: "s_1", token: "t_2", resumed: true)),
        .event(
            Event(
                seq: 42, run: "run_7", kind: "tool_completed", ts: 1_763_712_000_123, confirm: .display, attempt: 2,
                payload: try! Payload(json: #"{"call":"c1","text":"line\nbreak \"quoted\" é 🎉"}"#))),
        .ack(
            Ack(
                receipt: try! AckSet(upTo: 41, ranges: [43...44, 47...47]), display: AckSet(upTo: 40),
                value: [
                    ValueConfirmation(seq: 12, signal: "copied", score: 1), ValueConfirmation(seq: 13, score: -0.5),
                ])),
        .ack(Ack(value: [ValueConfirmation(seq: 9)])),
        .nack(Nack(seq: 43, level: .display, reason: .renderFailed, detail: "widget crashed")),
        .nack(Nack(seq: 44, level: .value, reason: "custom_reason")),
        .synced(Synced(receipt: AckSet(upTo: 10), display: AckSet(upTo: 8), value: AckSet())),
        .synced(Synced()),
        .progress(Progress(run: "run_7", ts: 5, note: "still thinking")),
        .progress(Progress(run: "run_7", ts: 5)),
        .ping(id: 7),
        .pong(id: 0),
        .error(ErrorMessage(code: .invalidAck, message: "bad", fatal: false, seq: 43)),
        .error(ErrorMessage(code: "future_code", message: "", fatal: true)),
        .bye(reason: "shutdown"),
        .bye(reason: nil),
    ]

    @Test("every message type round-trips", arguments: samples)
    func roundTrip(message: Message) throws {
        let text = codec.encode(message)
        #expect(try codec.decode(text) == message)
        #expect(try codec.decode(bytes: Array(text.utf8)) == message)
        // Deterministic: encoding the decoded message gives the same bytes.
        #expect(codec.encode(try codec.decode(text)) == text)
    }

    @Test("the samples cover every message type")
    func coverage() {
        #expect(Set(Self.samples.map(\.type)) == Set(MessageType.allCases))
    }

    @Test("encoding is compact with members in the spec's order (EA-MSG-3)")
    func exactEncoding() {
        let event = Event(seq: 42, run: "run_7", kind: "agent_thinking", ts: 17, confirm: .receipt, payload: .empty)
        #expect(
            codec.encode(.event(event))
                == #"{"type":"event","seq":42,"run":"run_7","kind":"agent_thinking","ts":17,"confirm":"receipt","#
                + #""attempt":1,"payload":{}}"#)
        let ack = Ack(receipt: try! AckSet(upTo: 41, ranges: [43...44]))
        #expect(codec.encode(.ack(ack)) == #"{"type":"ack","receipt":{"upTo":41,"ranges":[[43,44]]}}"#)
        #expect(codec.encode(.ping(id: 7)) == #"{"type":"ping","id":7}"#)
        #expect(codec.encode(.bye(reason: "a\u{1}\"\\")) == #"{"type":"bye","reason":"a\u0001\"\\"}"#)
    }

    @Test(
        "whitespace, member order and unknown members are accepted; the payload is kept compact (EA-MSG-3, EA-MSG-5, EA-EVT-5)"
    )
    func lenientLayout() throws {
        let text = """
            { "payload" : { "a" : [ 1 , 2 ] , "b" : "x y" } , "attempt":1, "confirm":"value", "ts":0,
              "kind":"k", "run":"r", "seq":1, "type":"event", "extra": {"ignored": true} }
            """
        guard case .event(let event) = try codec.decode(text) else {
            Issue.record("not an event")
            return
        }
        #expect(event.payload.json == #"{"a":[1,2],"b":"x y"}"#)
        #expect(event.confirm == .value)
    }

    @Test("escaped keys and strings are understood")
    func escapes() throws {
        let text = #"{"t\u0079pe":"ping","id":3}"#
        #expect(try codec.decode(text) == .ping(id: 3))
        let bye = try codec.decode(#"{"type":"bye","reason":"\ud83c\udf89 \u00e9\/"}"#)
        #expect(bye == .bye(reason: "🎉 é/"))
    }

    @Test(
        "invalid frames fail with the spec's code and path",
        arguments: [
            (#"{"type":"ping","id":7"#, "malformed_json", "$"),
            (#"{"type":"ping","id":07}"#, "malformed_json", "$.id"),
            (#"[1,2]"#, "invalid_message", "$"),
            (#"{"id":7}"#, "invalid_message", "$.type"),
            (#"{"type":"shout"}"#, "unknown_type", "$.type"),
            (#"{"type":"ping","id":-1}"#, "invalid_message", "$.id"),
            (#"{"type":"ping","id":1.5}"#, "invalid_message", "$.id"),
            (#"{"type":"ping","id":9007199254740992}"#, "invalid_message", "$.id"),
            (#"{"type":"ping","id":1,"id":2}"#, "invalid_message", "$.id"),
            (#"{"type":"ack"}"#, "invalid_message", "$"),
            (#"{"type":"ack","receipt":{"upTo":3,"ranges":[[4,5]]}}"#, "invalid_ack", "$.receipt.ranges[0]"),
            (#"{"type":"ack","receipt":{"upTo":1,"ranges":[[3,4],[2,2]]}}"#, "invalid_ack", "$.receipt.ranges[1]"),
            (#"{"type":"ack","receipt":{"upTo":1,"ranges":[[5,4]]}}"#, "invalid_ack", "$.receipt.ranges[0]"),
            (#"{"type":"ack","receipt":{"upTo":1,"ranges":[[3]]}}"#, "invalid_message", "$.receipt.ranges[0]"),
            (#"{"type":"ack","value":[{"seq":2},{"seq":2}]}"#, "invalid_ack", "$.value[1].seq"),
            (#"{"type":"nack","seq":1,"level":"seen","reason":"x"}"#, "invalid_message", "$.level"),
            (
                #"{"type":"event","seq":1,"run":"","kind":"k","ts":0,"confirm":"receipt","attempt":1,"payload":{}}"#,
                "invalid_message", "$.run"
            ),
            (
                #"{"type":"hello","versions":["1.x"],"client":{"name":"a","version":"1"}}"#, "invalid_message",
                "$.versions[0]"
            ),
            (#"{"type":"hello","versions":[],"client":{"name":"a","version":"1"}}"#, "invalid_message", "$.versions"),
        ])
    func invalidFrames(text: String, code: String, path: String) {
        #expect {
            try codec.decode(text)
        } throws: { error in
            guard let error = error as? EventAckError else { return false }
            return error.code.rawValue == code && error.path == path
        }
    }

    @Test("too many ranges and too large frames are refused (EA-ACK-4, EA-MSG-8, EA-ISO-3)")
    func limits() {
        let ranges = (0..<65).map { "[\(3 + $0 * 2),\(3 + $0 * 2)]" }.joined(separator: ",")
        #expect(throws: EventAckError(code: .tooManyRanges, message: "more than 64 ranges", path: "$.receipt.ranges")) {
            try codec.decode(#"{"type":"ack","receipt":{"upTo":1,"ranges":[\#(ranges)]}}"#)
        }
        let small = MessageCodec(maxFrameBytes: 16)
        #expect {
            try small.decode(#"{"type":"ping","id":12345678}"#)
        } throws: { ($0 as? EventAckError)?.code == .frameTooLarge }
    }

    @Test("an undecodable event reports its seq so that a client can nack it (EA-EVT-6)")
    func undecodableEventKeepsSeq() {
        let text = #"{"type":"event","seq":9,"run":"r","kind":"k","ts":0,"confirm":"maybe","attempt":1,"payload":{}}"#
        #expect {
            try codec.decode(text)
        } throws: { ($0 as? EventAckError)?.seq == 9 }
    }

    @Test("bytes that are not UTF-8 are malformed")
    func invalidUTF8() {
        #expect {
            try codec.decode(bytes: [0x7B, 0x22, 0xFF, 0x22, 0x7D])
        } throws: { ($0 as? EventAckError)?.code == .malformedJSON }
    }
}
