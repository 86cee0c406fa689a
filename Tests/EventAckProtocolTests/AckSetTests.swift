import Testing

@testable import EventAckProtocol

@Suite("AckSet")
struct AckSetTests {
    @Test("in-order inserts advance upTo without ranges")
    func inOrderInserts() {
        var set = AckSet()
        for seq in Seq(1)...5 {
            let inserted = set.insert(seq)
            #expect(inserted)
        }
        #expect(set.upTo == 5)
        #expect(set.ranges.isEmpty)
        let again = set.insert(3)
        #expect(again == false)
    }

    @Test("a gap creates a range that is absorbed when filled")
    func gapFilled() {
        var set = AckSet(upTo: 2)
        set.insert(4)
        set.insert(5)
        #expect(set.ranges == [4...5])
        #expect(set.holes() == [3...3])
        set.insert(3)
        #expect(set.upTo == 5)
        #expect(set.ranges.isEmpty)
        #expect(set.holes().isEmpty)
    }

    @Test("inserting a range bridging two ranges merges them")
    func bridgingRange() {
        var set = AckSet(upTo: 1)
        set.insert(5...6)
        set.insert(10...12)
        set.insert(7...9)
        #expect(set.ranges == [5...12])
        set.insert(2...4)
        #expect(set.upTo == 12)
        #expect(set.ranges.isEmpty)
    }

    @Test("canonical form is validated (EA-ACK-2, § 4)")
    func canonicalValidation() throws {
        #expect(throws: EventAckError.self) { try AckSet(upTo: 3, ranges: [4...5]) }  // adjacent to upTo
        #expect(throws: EventAckError.self) { try AckSet(upTo: 0, ranges: [5...6, 3...3]) }  // unsorted
        #expect(throws: EventAckError.self) { try AckSet(upTo: 0, ranges: [2...4, 5...6]) }  // adjacent ranges
        #expect(throws: EventAckError.self) { try AckSet(upTo: 0, ranges: [2...4, 4...6]) }  // overlapping
        #expect(throws: EventAckError.self) { try AckSet(upTo: ProtocolLimits.maxSeq + 1, ranges: []) }
        let set = try AckSet(upTo: 3, ranges: [5...5, 7...9])
        #expect(set.count == 7)
        #expect(set.highest == 9)
    }

    @Test("capping keeps the lowest ranges and under-reports only (EA-ACK-4)")
    func capping() {
        var set = AckSet()
        for index in Seq(0)..<100 { set.insert(2 + index * 3) }
        let capped = set.capped()
        #expect(capped.ranges.count == ProtocolLimits.maxAckRanges)
        #expect(set.isSuperset(of: capped))
        #expect(!capped.isSuperset(of: set))
        #expect(capped.ranges == Array(set.ranges.prefix(ProtocolLimits.maxAckRanges)))
    }

    @Test("random operations agree with a Set<UInt64> model", arguments: 0..<40)
    func modelAgreement(seed: UInt64) throws {
        var random = SplitMix64(seed: seed)
        var set = AckSet()
        var model = Set<UInt64>()
        let span = UInt64.random(in: 8...300, using: &random)
        for _ in 0..<200 {
            switch UInt64.random(in: 0..<10, using: &random) {
            case 0..<6:
                let seq = UInt64.random(in: 0...span, using: &random)
                let inserted = set.insert(seq)
                #expect(inserted == (seq != 0 && model.insert(seq).inserted), "seed \(seed)")
            case 6..<8:
                let low = UInt64.random(in: 1...span, using: &random)
                let high = low + UInt64.random(in: 0...12, using: &random)
                set.insert(low...high)
                model.formUnion(low...high)
            default:
                var other = AckSet()
                for _ in 0..<UInt64.random(in: 0...20, using: &random) {
                    let seq = UInt64.random(in: 1...span, using: &random)
                    other.insert(seq)
                    model.insert(seq)
                }
                set.formUnion(other)
            }
            try checkAgainstModel(set, model, span: span + 14, seed: seed)
        }
    }

    /// Membership, count, highest, holes and the canonical round trip all agree with the model.
    private func checkAgainstModel(_ set: AckSet, _ model: Set<UInt64>, span: UInt64, seed: UInt64) throws {
        for seq in 0...span { #expect(set.contains(seq) == model.contains(seq), "seed \(seed) seq \(seq)") }
        #expect(set.count == UInt64(model.count), "seed \(seed)")
        #expect(set.highest == model.max(), "seed \(seed)")
        let holeMembers = Set(set.holes().flatMap { Array($0) })
        let expectedHoles = Set((1...(model.max() ?? 0)).filter { !model.contains($0) })
        #expect(holeMembers == expectedHoles, "seed \(seed)")
        #expect(AckSet.canonicalViolation(upTo: set.upTo, ranges: set.ranges) == nil, "seed \(seed)")
        #expect(AckSet(model) == set, "seed \(seed)")
        // Canonical round trip through the wire format (capping aside).
        let codec = MessageCodec()
        let capped = set.capped()
        let decoded = try codec.decode(codec.encode(.synced(Synced(receipt: capped))))
        #expect(decoded == .synced(Synced(receipt: capped)), "seed \(seed)")
    }

    @Test("isSuperset agrees with the model", arguments: 0..<20)
    func superset(seed: UInt64) {
        var random = SplitMix64(seed: seed)
        let left = Set((0..<40).map { _ in UInt64.random(in: 1...60, using: &random) })
        let right = Set((0..<8).map { _ in UInt64.random(in: 1...60, using: &random) })
        #expect(AckSet(left).isSuperset(of: AckSet(right)) == left.isSuperset(of: right), "seed \(seed)")
        #expect(AckSet(left).isSuperset(of: AckSet(left.filter { $0 % 3 == 0 })))
    }

    @Test("missing(from:) agrees with the model", arguments: 0..<20)
    func missing(seed: UInt64) {
        var random = SplitMix64(seed: seed)
        let members = Set((0..<40).map { _ in UInt64.random(in: 1...80, using: &random) })
        let low = UInt64.random(in: 1...80, using: &random)
        let high = UInt64.random(in: low...90, using: &random)
        let pieces = AckSet(members).missing(from: low...high)
        #expect(pieces.flatMap { Array($0) } == (low...high).filter { !members.contains($0) }, "seed \(seed)")
        // Pieces are maximal: none touches the next.
        for (left, right) in zip(pieces, pieces.dropFirst()) { #expect(left.upperBound + 1 < right.lowerBound) }
    }
}
