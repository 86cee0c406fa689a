/// The ids of a session's runs that have ended, so that an `emit` reusing one is refused instead of starting a second
/// run under the same id — which would merge two runs' events or record two verdicts for one id (EA-RUN-1).
///
/// Bounded (EA-MSG-14): past the configured limit (``ReconcilerConfiguration/endedRunsRemembered``) the oldest ids
/// are forgotten first. A producer that reuses an id older than that starts a new run; the store's
/// one-verdict-per-(session, run) constraint still keeps a second verdict out of the cross-node report.
struct EndedRuns: Sendable {
    private var ids: Set<String> = []
    /// Insertion order, oldest at `head`; compacted when half of it is dead.
    private var order: [String] = []
    private var head = 0

    func contains(_ run: String) -> Bool { ids.contains(run) }

    mutating func insert(_ run: String, limit: Int) {
        guard limit > 0, ids.insert(run).inserted else { return }
        order.append(run)
        while ids.count > limit {
            ids.remove(order[head])
            head += 1
        }
        if head > 64 && head * 2 > order.count {
            order.removeFirst(head)
            head = 0
        }
    }
}
