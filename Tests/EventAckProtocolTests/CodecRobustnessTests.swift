import Testing

@testable import EventAckProtocol

/// Fuzz-style checks: whatever the input, the decoder returns a message or a typed error — it never traps or hangs
/// — and whatever it accepts re-encodes to something it accepts again.
@Suite("Codec robustness")
struct CodecRobustnessTests {
    let codec = MessageCodec()

    /// Every valid sample, cut at every byte: each prefix either decodes or fails with a defined code.
    @Test("truncated frames fail cleanly (EA-MSG-11)")
    func truncation() {
        for message in MessageCodecTests.samples {
            let bytes = Array(codec.encode(message).utf8)
            for length in 0..<bytes.count {
                checkClean(Array(bytes[0..<length]))
            }
        }
    }

    @Test("mutated frames fail cleanly or decode to something that round-trips", arguments: 0..<8)
    func mutation(seed: UInt64) {
        var random = SplitMix64(seed: seed)
        let alphabet = Array(#"{}[]":,.-+0123456789eE \tnulltruefalse\u"#.utf8) + [0x00, 0x1F, 0x7F]
        for _ in 0..<3_000 {
            var bytes = Array(codec.encode(MessageCodecTests.samples.randomElement(using: &random)!).utf8)
            for _ in 0..<Int.random(in: 1...4, using: &random) {
                let position = Int.random(in: 0..<bytes.count, using: &random)
                switch Int.random(in: 0..<3, using: &random) {
                case 0: bytes[position] = alphabet.randomElement(using: &random)!
                case 1: bytes.insert(alphabet.randomElement(using: &random)!, at: position)
                default: if bytes.count > 1 { bytes.remove(at: position) }
                }
            }
            checkClean(bytes)
        }
    }

    @Test("random bytes fail cleanly", arguments: 0..<4)
    func randomBytes(seed: UInt64) {
        var random = SplitMix64(seed: seed)
        for _ in 0..<3_000 {
            let count = Int.random(in: 0..<64, using: &random)
            checkClean((0..<count).map { _ in UInt8.random(in: 0...255, using: &random) })
        }
    }

    @Test("deep nesting is refused, not a stack overflow (EA-MSG-9, EA-ISO-3)")
    func deepNesting() {
        let deep = String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000)
        let text =
            #"{"type":"event","seq":1,"run":"r","kind":"k","ts":0,"confirm":"receipt","attempt":1,"payload":{"a":\#(deep)}}"#
        #expect {
            try codec.decode(text)
        } throws: { ($0 as? EventAckError)?.code == .invalidMessage }
    }

    private func checkClean(_ bytes: [UInt8]) {
        do {
            let message = try codec.decode(bytes: bytes)
            #expect(try codec.decode(codec.encode(message)) == message)
        } catch {
            #expect(ErrorCode.allDefined.contains(error.code), "undefined code \(error.code)")
        }
    }
}
