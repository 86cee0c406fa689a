/// A set of sequence numbers in the protocol's canonical form: every seq up to ``upTo`` plus sorted, disjoint,
/// non-adjacent inclusive ``ranges`` above it — the selective-acknowledgment shape of QUIC ACK ranges and TCP SACK.
///
/// The canonical form is an invariant of the type: every mutation keeps it, so two sets with the same members are
/// equal and encode to the same bytes (EA-ACK-2). Operations cost time proportional to the number of ranges, never
/// to the number of members.
public struct AckSet: Hashable, Sendable, CustomStringConvertible {
    /// Every seq in `1...upTo` is a member; 0 means none is.
    public private(set) var upTo: Seq
    /// Members above ``upTo``: sorted, disjoint, non-adjacent, and the first starts above `upTo + 1`.
    public private(set) var ranges: [ClosedRange<Seq>]

    /// The empty set.
    public init() {
        upTo = 0
        ranges = []
    }

    /// Every seq in `1...upTo`.
    public init(upTo: Seq) {
        self.upTo = upTo
        ranges = []
    }

    /// A set from its wire form, which must already be canonical.
    ///
    /// - Throws: ``ErrorCode/invalidAck`` when the form is not canonical. The range cap is the codec's concern: this
    ///   initialiser accepts any number of ranges, because local sets (a client's reorder buffer) may hold more.
    public init(upTo: Seq, ranges: [ClosedRange<Seq>]) throws(EventAckError) {
        if let violation = Self.canonicalViolation(upTo: upTo, ranges: ranges) {
            throw EventAckError(code: .invalidAck, message: violation.reason)
        }
        self.upTo = upTo
        self.ranges = ranges
    }

    /// The set of the given sequence numbers, in any order, duplicates allowed; 0 is ignored.
    public init(_ seqs: some Sequence<Seq>) {
        self.init()
        for seq in seqs { insert(seq) }
    }

    /// Where `upTo` and `ranges` break the canonical form, if they do: the index of the first bad range (or `nil`
    /// when `upTo` itself is out of range) and why.
    public static func canonicalViolation(
        upTo: Seq,
        ranges: [ClosedRange<Seq>]
    ) -> (rangeIndex: Int?, reason: String)? {
        guard upTo <= ProtocolLimits.maxSeq else { return (nil, "upTo exceeds 2^53-1") }
        var floor = upTo  // every range must start above floor + 1
        for (index, range) in ranges.enumerated() {
            if range.lowerBound == 0 || range.upperBound > ProtocolLimits.maxSeq {
                return (index, "range bounds must lie in 1...2^53-1")
            }
            if range.lowerBound <= floor + 1 {
                let what = index == 0 ? "above upTo + 1" : "above the previous range + 1 (sorted, disjoint)"
                return (index, "range \(range.lowerBound)...\(range.upperBound) must start \(what)")
            }
            floor = range.upperBound
        }
        return nil
    }

    /// Whether the set has no member.
    public var isEmpty: Bool { upTo == 0 && ranges.isEmpty }

    /// The largest member, if any.
    public var highest: Seq? {
        if let last = ranges.last { return last.upperBound }
        return upTo > 0 ? upTo : nil
    }

    /// The number of members.
    public var count: UInt64 {
        ranges.reduce(upTo) { $0 + ($1.upperBound - $1.lowerBound + 1) }
    }

    /// Every member as inclusive ranges, lowest first: `1...upTo` (when not empty) followed by ``ranges``.
    public var memberRanges: [ClosedRange<Seq>] {
        upTo > 0 ? [1...upTo] + ranges : ranges
    }

    /// Whether `seq` is a member. O(log ranges).
    public func contains(_ seq: Seq) -> Bool {
        if seq == 0 { return false }
        if seq <= upTo { return true }
        let index = firstRangeIndex(endingAtOrAbove: seq)
        return index < ranges.count && ranges[index].lowerBound <= seq
    }

    /// The maximal run of consecutive members that holds `seq`, if `seq` is a member. O(log ranges).
    public func memberRange(containing seq: Seq) -> ClosedRange<Seq>? {
        if seq == 0 { return nil }
        if seq <= upTo { return 1...upTo }
        let index = firstRangeIndex(endingAtOrAbove: seq)
        guard index < ranges.count, ranges[index].lowerBound <= seq else { return nil }
        return ranges[index]
    }

    /// Whether every member of `other` is a member of this set.
    public func isSuperset(of other: AckSet) -> Bool {
        other.memberRanges.allSatisfy { range in
            if range.upperBound <= upTo { return true }
            let index = firstRangeIndex(endingAtOrAbove: range.upperBound)
            let low = max(range.lowerBound, upTo + 1)
            return index < ranges.count && ranges[index].lowerBound <= low
        }
    }

    /// Adds `seq`; returns whether it was new. Seq 0 is never a member and is ignored.
    @discardableResult
    public mutating func insert(_ seq: Seq) -> Bool {
        if seq == 0 || contains(seq) { return false }
        insert(seq...seq)
        return true
    }

    /// Adds every seq of `range` (a lower bound of 0 is treated as 1).
    public mutating func insert(_ range: ClosedRange<Seq>) {
        if range.upperBound <= upTo || range.upperBound == 0 { return }
        var low = max(range.lowerBound, upTo + 1, 1)
        var high = range.upperBound
        // Ranges [first, last) overlap or touch low...high and merge with it.
        let first = firstRangeIndex(endingAtOrAbove: low - 1)
        var last = first
        while last < ranges.count, ranges[last].lowerBound - 1 <= high {
            low = min(low, ranges[last].lowerBound)
            high = max(high, ranges[last].upperBound)
            last += 1
        }
        ranges.replaceSubrange(first..<last, with: CollectionOfOne(low...high))
        absorbLeadingRange()
    }

    /// Adds every member of `other`.
    public mutating func formUnion(_ other: AckSet) {
        if other.upTo > 0 { insert(1...other.upTo) }
        for range in other.ranges { insert(range) }
    }

    /// The union of both sets.
    public func union(_ other: AckSet) -> AckSet {
        var result = self
        result.formUnion(other)
        return result
    }

    /// The missing seqs below ``highest``, as ranges lowest first: what a receiver still waits for.
    public func holes() -> [ClosedRange<Seq>] {
        var result: [ClosedRange<Seq>] = []
        result.reserveCapacity(ranges.count)
        var next = upTo + 1
        for range in ranges {
            result.append(next...(range.lowerBound - 1))
            next = range.upperBound + 1
        }
        return result
    }

    /// The seqs of `range` that are not members, as ranges lowest first: what an ack adds to what is already known.
    /// O(log ranges + pieces).
    public func missing(from range: ClosedRange<Seq>) -> [ClosedRange<Seq>] {
        var low = max(range.lowerBound, upTo + 1)
        guard low <= range.upperBound else { return [] }
        var pieces: [ClosedRange<Seq>] = []
        var index = firstRangeIndex(endingAtOrAbove: low)
        while low <= range.upperBound {
            guard index < ranges.count, ranges[index].lowerBound <= range.upperBound else {
                pieces.append(low...range.upperBound)
                break
            }
            let member = ranges[index]
            if member.lowerBound > low { pieces.append(low...(member.lowerBound - 1)) }
            if member.upperBound == .max { break }
            low = max(low, member.upperBound + 1)
            index += 1
        }
        return pieces
    }

    /// This set limited to its lowest `maxRanges` ranges: what fits on the wire (EA-ACK-4). Dropping the highest
    /// ranges only under-reports, which is always safe; the lowest ones matter most for retransmission.
    public func capped(toRanges maxRanges: Int = ProtocolLimits.maxAckRanges) -> AckSet {
        guard ranges.count > maxRanges else { return self }
        var result = self
        result.ranges.removeSubrange(maxRanges...)
        return result
    }

    public var description: String {
        let rangeText = ranges.map { "[\($0.lowerBound),\($0.upperBound)]" }.joined(separator: ",")
        return "{upTo:\(upTo),ranges:[\(rangeText)]}"
    }

    /// The index of the first range whose upper bound is ≥ `seq` (or `ranges.count`). Binary search.
    private func firstRangeIndex(endingAtOrAbove seq: Seq) -> Int {
        var low = 0
        var high = ranges.count
        while low < high {
            let middle = (low + high) / 2
            if ranges[middle].upperBound < seq { low = middle + 1 } else { high = middle }
        }
        return low
    }

    /// Restores the invariant that the first range starts above `upTo + 1`.
    private mutating func absorbLeadingRange() {
        if let first = ranges.first, first.lowerBound == upTo + 1 {
            upTo = first.upperBound
            ranges.removeFirst()
        }
    }
}
