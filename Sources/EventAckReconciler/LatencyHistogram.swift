import EventAckProtocol

/// A log-bucketed histogram of latencies in milliseconds: exact below 16 ms, then 8 buckets per power of two, so a
/// percentile is within 12.5 % of the true value. Recording is O(1) and the memory grows only with the largest
/// value (about 300 bytes for values up to 10 minutes). Histograms merge, so per-run, per-session and overall
/// figures — and reports of several processes — combine exactly.
public struct LatencyHistogram: Sendable, Hashable, Codable {
    /// Samples recorded.
    public private(set) var count: UInt64 = 0
    /// The largest sample.
    public private(set) var max: UInt64 = 0
    /// The sum of samples (for the mean).
    public private(set) var sum: UInt64 = 0
    /// Samples per bucket, indexed by ``bucketIndex(of:)``; grows on demand.
    private var buckets: [UInt64] = []

    /// An empty histogram.
    public init() {}

    /// The mean, or 0 without samples.
    public var mean: Double { count == 0 ? 0 : Double(sum) / Double(count) }

    /// Adds one sample.
    public mutating func record(_ valueMs: UInt64) {
        let index = Self.bucketIndex(of: valueMs)
        growBuckets(to: index + 1)
        buckets[index] += 1
        count += 1
        sum &+= valueMs
        max = Swift.max(max, valueMs)
    }

    /// Adds every sample of `other`.
    public mutating func merge(_ other: LatencyHistogram) {
        growBuckets(to: other.buckets.count)
        for (index, value) in other.buckets.enumerated() { buckets[index] += value }
        count += other.count
        sum &+= other.sum
        max = Swift.max(max, other.max)
    }

    /// The value at or below which `fraction` (0…1) of the samples lie: the upper bound of the bucket that holds
    /// it, never above ``max``. 0 without samples.
    public func percentile(_ fraction: Double) -> UInt64 {
        guard count > 0 else { return 0 }
        let rank = Swift.max(1, UInt64((Double(count) * Swift.min(Swift.max(fraction, 0), 1)).rounded(.up)))
        var seen: UInt64 = 0
        for (index, value) in buckets.enumerated() {
            seen += value
            if seen >= rank { return Swift.min(Self.upperBound(ofBucket: index), max) }
        }
        return max
    }

    /// Samples whose bucket lies wholly at or below `bound` (ms): the cumulative count of a Prometheus histogram's
    /// `le` bucket, exact below 16 ms and within one bucket (≤ 12.5 %) above.
    public func count(atOrBelow bound: UInt64) -> UInt64 {
        var total: UInt64 = 0
        for (index, value) in buckets.enumerated() where Self.upperBound(ofBucket: index) <= bound { total += value }
        return total
    }

    private mutating func growBuckets(to count: Int) {
        if count > buckets.count { buckets.append(contentsOf: repeatElement(0, count: count - buckets.count)) }
    }

    /// The bucket of a value: the value itself below 16, then 8 sub-buckets per power of two.
    static func bucketIndex(of value: UInt64) -> Int {
        if value < 16 { return Int(value) }
        let exponent = UInt64.bitWidth - 1 - value.leadingZeroBitCount  // ≥ 4
        let subBucket = Int((value >> (exponent - 3)) & 7)
        return 16 + (exponent - 4) * 8 + subBucket
    }

    /// The largest value of a bucket.
    static func upperBound(ofBucket index: Int) -> UInt64 {
        if index < 16 { return UInt64(index) }
        let exponent = (index - 16) / 8 + 4
        let subBucket = UInt64((index - 16) % 8)
        let lower = (8 + subBucket) << (exponent - 3)
        return lower + (UInt64(1) << (exponent - 3)) - 1
    }

    // MARK: Codable: the summary people read, and the buckets that merging needs.

    private enum CodingKeys: String, CodingKey {
        case count, p50, p90, p99, max, mean, sum, buckets
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        count = try container.decode(UInt64.self, forKey: .count)
        max = try container.decode(UInt64.self, forKey: .max)
        sum = try container.decode(UInt64.self, forKey: .sum)
        let pairs = try container.decode([[UInt64]].self, forKey: .buckets)
        for pair in pairs where pair.count == 2 {
            let index = Self.bucketIndex(of: pair[0])
            growBuckets(to: index + 1)
            buckets[index] += pair[1]
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(count, forKey: .count)
        try container.encode(percentile(0.5), forKey: .p50)
        try container.encode(percentile(0.9), forKey: .p90)
        try container.encode(percentile(0.99), forKey: .p99)
        try container.encode(max, forKey: .max)
        try container.encode(reportedMean, forKey: .mean)
        try container.encode(sum, forKey: .sum)
        try container.encode(nonEmptyBuckets.map { [$0.bound, $0.samples] }, forKey: .buckets)
    }

    /// ``mean`` as reports carry it: one decimal.
    var reportedMean: Double { (mean * 10).rounded() / 10 }

    /// Sparse, as reports carry the buckets: the upper bound and the samples of each non-empty bucket.
    var nonEmptyBuckets: [(bound: UInt64, samples: UInt64)] {
        buckets.enumerated().filter { $0.element > 0 }.map { (Self.upperBound(ofBucket: $0.offset), $0.element) }
    }

    /// The ``encode(to:)`` format, written directly (``RunReport/json()``).
    func write(into writer: inout JSONWriter) {
        writer.beginObject()
        writer.key("count", first: true)
        writer.integer(count)
        writer.key("p50")
        writer.integer(percentile(0.5))
        writer.key("p90")
        writer.integer(percentile(0.9))
        writer.key("p99")
        writer.integer(percentile(0.99))
        writer.key("max")
        writer.integer(max)
        writer.key("mean")
        writer.double(reportedMean)
        writer.key("sum")
        writer.integer(sum)
        writer.key("buckets")
        writer.array(nonEmptyBuckets) { writer, bucket in writer.pair(bucket.bound, bucket.samples) }
        writer.endObject()
    }
}
