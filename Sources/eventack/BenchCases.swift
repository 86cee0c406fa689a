import EventAckClient
import EventAckProtocol
import Foundation

/// The benchmark cases. Later modules add theirs to ``all``.
enum BenchCases {
    static var all: [BenchCase] {
        codec + ackSet + ClientBenchCases.all + ReconcilerBenchCases.all + foundationBaseline
    }

    /// An event of about 200 bytes, the size the issue's target is stated for.
    static let sampleEventText =
        #"{"type":"event","seq":42,"run":"run_7","kind":"tool_completed","ts":1763712000123,"confirm":"display","#
        + #""attempt":1,"payload":{"call":"call_3","tool":"web_search","output":"3 results for swift ack","#
        + #""ms":412}}"#

    static let sampleAckText =
        #"{"type":"ack","receipt":{"upTo":41,"ranges":[[43,44],[47,47],[50,58]]},"display":{"upTo":30,"#
        + #""ranges":[[33,33]]},"value":[{"seq":12,"signal":"copied","score":1}]}"#

    static var codec: [BenchCase] {
        let codec = MessageCodec()
        let event = try! codec.decode(sampleEventText)
        let ack = try! codec.decode(sampleAckText)
        return [
            BenchCase(name: "codec.decode.event") { count in
                for _ in 0..<count { blackHole(try! codec.decode(sampleEventText)) }
            },
            BenchCase(name: "codec.encode.event") { count in
                for _ in 0..<count { blackHole(codec.encode(event)) }
            },
            BenchCase(name: "codec.decode.ack") { count in
                for _ in 0..<count { blackHole(try! codec.decode(sampleAckText)) }
            },
            BenchCase(name: "codec.encode.ack") { count in
                for _ in 0..<count { blackHole(codec.encode(ack)) }
            },
        ]
    }

    static var ackSet: [BenchCase] {
        [
            // One op: insert the next seq in order (the common case: upTo advances).
            BenchCase(name: "ackset.insert.inorder") { count in
                var set = AckSet()
                for seq in 1...UInt64(count) { set.insert(seq) }
                blackHole(set)
            },
            // One op: insert with reordering (pairs swapped, and every 64th seq late by 32): ranges come and go.
            BenchCase(name: "ackset.insert.reordered") { count in
                var set = AckSet()
                for index in 0..<UInt64(count) {
                    let swapped = index % 2 == 0 ? index + 2 : index
                    set.insert(swapped)
                }
                blackHole(set)
            },
            // One op: contains() on a set with 64 ranges.
            BenchCase(name: "ackset.contains.64ranges") { count in
                var set = AckSet(upTo: 1000)
                for index in UInt64(0)..<64 { set.insert((1002 + index * 10)...(1005 + index * 10)) }
                var hits = 0
                for index in 0..<count where set.contains(UInt64(900 + index % 800)) { hits += 1 }
                blackHole(hits)
            },
            // One op: merge two sets with 32 ranges each.
            BenchCase(name: "ackset.union.32ranges") { count in
                var left = AckSet(upTo: 10)
                var right = AckSet(upTo: 5)
                for index in UInt64(0)..<32 {
                    left.insert((20 + index * 20)...(24 + index * 20))
                    right.insert((30 + index * 20)...(31 + index * 20))
                }
                for _ in 0..<count { blackHole(left.union(right)) }
            },
        ]
    }

    /// Foundation's coders on the same event, for comparison.
    static var foundationBaseline: [BenchCase] {
        let data = Data(sampleEventText.utf8)
        let decoder = JSONDecoder()
        let encoder = JSONEncoder()
        let event = try! decoder.decode(FoundationEvent.self, from: data)
        return [
            BenchCase(name: "foundation.decode.event", maxOperations: 2_000_000) { count in
                for _ in 0..<count { blackHole(try! decoder.decode(FoundationEvent.self, from: data)) }
            },
            BenchCase(name: "foundation.encode.event", maxOperations: 2_000_000) { count in
                for _ in 0..<count { blackHole(try! encoder.encode(event)) }
            },
        ]
    }
}

/// The sample event as a plain `Codable` struct, to measure what Foundation costs for the same work.
struct FoundationEvent: Codable {
    struct Payload: Codable {
        var call: String
        var tool: String
        var output: String
        var ms: Int
    }
    var type: String
    var seq: UInt64
    var run: String
    var kind: String
    var ts: UInt64
    var confirm: String
    var attempt: UInt64
    var payload: Payload
}

/// The client state machine's per-event cost: receive an event and ack it (coalesced by count, 32 per ack).
enum ClientBenchCases {
    static var all: [BenchCase] {
        [
            BenchCase(name: "client.receive-and-ack", maxOperations: 2_000_000) { count in
                var machine = ClientStateMachine(configuration: ClientConfiguration(ackBatchSize: 32))
                _ = machine.connected(now: 0)
                _ = machine.messageReceived(.welcome(Welcome(session: "s", token: "t", resumed: false)), now: 0)
                let payload = try! Payload(json: #"{"text":"thinking about the question"}"#)
                var acks = 0
                for seq in 1...UInt64(count) {
                    let event = Event(
                        seq: seq, run: "run_1", kind: "agent_thinking", ts: seq, confirm: .receipt,
                        payload: payload)
                    for action in machine.messageReceived(.event(event), now: seq / 1000) {
                        if case .send = action { acks += 1 }
                    }
                }
                blackHole(acks)
            }
        ]
    }
}
