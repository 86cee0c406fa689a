import Testing

@testable import EventAckProtocol

@Suite("Payload")
struct PayloadTests {
    struct ToolResult: Codable, Equatable {
        var call: String
        var ms: Int
    }

    @Test("typed access through Decodable, both ways")
    func typedAccess() throws {
        let payload = try Payload(encoding: ToolResult(call: "c1", ms: 12))
        #expect(payload.json == #"{"call":"c1","ms":12}"#)
        #expect(try payload.decode(as: ToolResult.self) == ToolResult(call: "c1", ms: 12))
        let event = Event(seq: 1, run: "r", kind: "tool_completed", ts: 0, confirm: .receipt, payload: payload)
        #expect(try event.payload(as: ToolResult.self).call == "c1")
    }

    @Test("a payload must be a JSON object and is kept compact (EA-EVT-5)")
    func validation() throws {
        #expect(try Payload(json: " { \"a\" : [ 1, { \"b\" : \"c d\" } ] } ").json == #"{"a":[1,{"b":"c d"}]}"#)
        #expect(throws: EventAckError.self) { try Payload(json: "[1]") }
        #expect(throws: EventAckError.self) { try Payload(json: "{") }
        #expect(throws: EventAckError.self) { try Payload(json: String(repeating: "[", count: 100)) }
    }

    @Test("members are readable as JSON values")
    func values() throws {
        let payload = try Payload(json: #"{"text":"hi","n":1.5,"list":[true,null],"empty":""}"#)
        #expect(payload[member: "text"] == .string("hi"))
        #expect(payload[member: "n"] == .number("1.5"))
        #expect(payload[member: "list"] == .array([.bool(true), .null]))
        #expect(payload[member: "empty"]?.isNonEmpty == false)
        #expect(payload[member: "missing"] == nil)
    }
}
