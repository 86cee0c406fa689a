import EventAckProtocol
import EventAckReconciler
import Testing

/// Bad input from a peer never crashes the reconciler or changes what it recorded (EA-MSG-11).
@Suite("Reconciler robustness")
struct ReconcilerRobustnessTests {
    static let validFrames = [
        #"{"type":"ack","receipt":{"upTo":3,"ranges":[[5,6]]},"display":{"upTo":2}}"#,
        #"{"type":"nack","seq":2,"level":"display","reason":"render_failed"}"#,
        #"{"type":"ack","value":[{"seq":4,"signal":"copied","score":1}]}"#,
        #"{"type":"ping","id":7}"#,
        #"{"type":"hello","versions":["1.0"],"client":{"name":"x","version":"1"}}"#,
    ]

    @Test("each documented bad frame gets its error code and the connection stays open")
    func badFrames() {
        let cases: [(String, ErrorCode)] = [
            ("not json", .malformedJSON),
            (#"{"type":"ack"}"#, .invalidMessage),
            (#"{"type":"teleport"}"#, .unknownType),
            (#"{"type":"ack","receipt":{"upTo":5,"ranges":[[3,4]]}}"#, .invalidAck),
            (
                #"{"type":"event","seq":1,"run":"r","kind":"k","ts":0,"confirm":"receipt","attempt":1,"payload":{}}"#,
                .invalidMessage
            ),
            (#"{"type":"ack","receipt":{"upTo":100}}"#, .ackUnknownSeq),
        ]
        var harness = ReconcilerHarness()
        let (connection, welcome) = harness.connect()
        _ = harness.emit("agent_started", to: welcome.session)
        for (frame, code) in cases {
            let actions = harness.receive(json: frame, on: connection)
            #expect(actions.errors.map(\.code) == [code], "\(frame)")
            #expect(actions.errors.first?.fatal == false)
            #expect(actions.closes.isEmpty)
        }
        #expect(harness.ack(receipt: set(1), on: connection).errors.isEmpty, "the session still works")
        #expect(harness.report().overall.receipt.confirmed == 1)
    }

    @Test("a frame above the limit is refused with frame_too_large")
    func oversizedFrame() {
        var harness = ReconcilerHarness { $0.maxFrameBytes = 2048 }
        let (connection, _) = harness.connect()
        let frame = #"{"type":"ping","id":1,"pad":""# + String(repeating: "x", count: 4096) + #""}"#
        #expect(harness.receive(json: frame, on: connection).errors.map(\.code) == [.frameTooLarge])
    }

    @Test("10,000 mutated frames against 20 sessions: no crash, and no confirmation the client did not make")
    func mutationFuzz() {
        var random = SplitMix64(seed: 0xACC)
        var harness = ReconcilerHarness()
        var connections: [ConnectionID] = []
        for user in 0..<20 {
            let (connection, welcome) = harness.connect("u\(user)")
            connections.append(connection)
            for _ in 0..<8 { _ = harness.emit("agent_thinking", payload: #"{"text":"t"}"#, to: welcome.session) }
        }
        for round in 0..<10_000 {
            var bytes = Array(Self.validFrames[Int(random.next() % UInt64(Self.validFrames.count))].utf8)
            for _ in 0...(random.next() % 4) where !bytes.isEmpty {
                let index = Int(random.next() % UInt64(bytes.count))
                switch random.next() % 3 {
                case 0: bytes[index] = UInt8(truncatingIfNeeded: random.next())
                case 1: bytes.remove(at: index)
                default: bytes.insert(bytes[index], at: index)
                }
            }
            let connection = connections[round % connections.count]
            let frame = String(decoding: bytes, as: UTF8.self)
            let actions = harness.machine.frameReceived(frame, on: connection, now: harness.now)
            // Whatever the frame did, it touched no other connection.
            for case .send(_, let target) in actions { #expect(target == connection) }
        }
        let report = harness.report()
        #expect(report.overall.events == 160)
        #expect(report.overall.receipt.confirmed <= 160)
        #expect(report.overall.confirmed + report.overall.failed + report.overall.pending == 160)
    }
}
