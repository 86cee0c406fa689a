/// Makes run ids that are unique across the nodes of a deployment and across their restarts (EA-RUN-1):
/// `run_<node>_<boot>_<n>`, where `boot` is drawn at random once per process and `n` counts the process's runs.
///
/// A counter alone starts again at 1 when the process restarts, so a new run took the id of an old one in the same
/// session — the old one still open if its agent died with the process — and two runs became one (issue 23). The
/// boot nonce tells the process's lives apart; the node name, the nodes. Ids use only `[A-Za-z0-9._:-]` when the
/// node name does (they may then sit in a URL path unescaped) and are at most 128 characters for node names up to
/// 80.
///
/// ```swift
/// var ids = RunIDGenerator(node: "node-1", boot: UInt64.random(in: .min ... .max))
/// let run = ids.next()  // "run_node-1_3f9c0a1b2c3d4e5f_1"
/// ```
public struct RunIDGenerator: Sendable, Hashable {
    /// What every id of this process starts with.
    public let prefix: String
    private var count: UInt64 = 0

    /// A generator for the process `boot` (a random number drawn when it started) of node `node`.
    public init(node: String, boot: UInt64) {
        let hex = String(boot, radix: 16)
        prefix = "run_\(node)_\(String(repeating: "0", count: 16 - hex.count))\(hex)_"
    }

    /// The next run id.
    public mutating func next() -> String {
        count += 1
        return prefix + String(count)
    }
}
