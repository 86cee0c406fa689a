@_spi(Shell) import EventAckProtocol

/// Where a reconciler writes its sessions ahead of acting on them, so that any node can take a session over after a
/// crash (§ 15 of the spec).
///
/// The contract, which every implementation documents for its engine:
///
/// - ``append(_:commit:)`` returns only once the records are durable under the store's policy (for PostgreSQL: committed
///   with `synchronous_commit` on). The ``ReconcilerService`` sends no `event` and no `synced` that depends on a
///   record before this returns (write-ahead).
/// - Records of one session are kept in the order appended, and ``load(_:)`` returns them in that order.
/// - Exactly one node owns a session at a time (EA-DUR-4): a `resumed` record moves the session to the node that
///   appends it, provided it is still as that node loaded it, and fences every earlier owner, whose later appends for
///   that session are refused — ``append(_:commit:)`` returns the sessions it refused, and the fenced node stops serving
///   them.
public protocol SessionStore: Sendable {
    /// Makes `records` durable, in order. Ownership moves with them: an `opened` record makes this node the
    /// owner of a new session; a `resumed` record takes the session over from whoever owns it, provided it still
    /// is as this node last saw it (opened here, or ``load(_:)``ed by this node) — a compare-and-swap, which is the
    /// fence; every other record is refused unless this node owns the session.
    ///
    /// A store that lets agents emit on any node should hand the refused `emitted` records without an `origin` to
    /// the new owner (the PostgreSQL store forwards them in the same transaction): the events an agent emitted to a
    /// copy that had just moved away are then delivered, not lost (EA-DUR-5).
    ///
    /// **Unknown outcomes (EA-DUR-7).** A caller whose append threw retries the same records with the same `commit`,
    /// for as long as it takes. The store must then answer as the first attempt would have, had it been told: if
    /// that attempt committed (its outcome was only lost on the way back), the store writes nothing again and
    /// returns the sessions it refused then — a retry must never write a record twice, take a session over twice or
    /// find itself fenced by its own first attempt. Each run's verdict is recorded at most once per (session, run),
    /// whatever the caller sends (EA-DUR-6).
    ///
    /// - Parameters:
    ///   - records: the records, in order.
    ///   - commit: names this batch on every attempt; a new batch has a new one.
    /// - Returns: the sessions whose records were refused because another node took them over: stop serving them.
    /// - Throws: when the store cannot be reached or the outcome is unknown; nothing that depends on the records may
    ///   be sent, and the caller retries with the same `commit`.
    func append(_ records: [SessionRecord], commit: CommitID) async throws -> Set<SessionID>

    /// Returns `session`'s records in order, and remembers which version of the session this node saw (for the
    /// compare-and-swap of a later `resumed` record). Reading takes nothing over: only a resume that passed its
    /// checks does.
    ///
    /// - Returns: `nil` when the store does not know the session (never opened, ended, or expired).
    func load(_ session: SessionID) async throws -> [SessionRecord]?
}

/// A ``SessionStore`` in memory: what the simulator and the tests use to prove recovery, with several nodes over
/// one ``Storage`` (the "database"). Durable only as long as the process; a ``ReconcilerService`` without a store
/// keeps sessions in the reconciler alone and is faster.
public final class InMemorySessionStore: SessionStore {
    /// What every node of one cluster shares.
    public final class Storage: Sendable {
        struct Shelf: Sendable {
            var records: [SessionID: [SessionRecord]] = [:]
            /// The owner of each session and the epoch it took it at: each takeover adds one.
            var owners: [SessionID: (node: String, epoch: UInt64)] = [:]
            var finishedRuns: [RunReport] = []
            /// The (session, run) of every verdict: the constraint that keeps a second one out (EA-DUR-6).
            var verdictKeys: Set<RunKey> = []
            var refusedVerdicts = 0
            /// What each recent commit did, so that a retry is answered without writing again (EA-DUR-7).
            var commits: [CommitID: Outcome] = [:]
            var commitOrder: [CommitID] = []
        }

        struct RunKey: Hashable, Sendable {
            var session: SessionID
            var run: String
        }

        /// A commit's result, as its writer would have learned it.
        struct Outcome: Sendable {
            var fenced: Set<SessionID>
            /// The epoch the writer holds each session it wrote at, after the commit.
            var epochs: [SessionID: UInt64]
        }

        /// Commits remembered for retries; a writer retries within seconds, so this is ample.
        static let rememberedCommits = 65_536

        let shelf = LockedState(Shelf())

        /// Empty storage.
        public init() {}

        /// Every run verdict recorded by any node, in the order recorded: the cross-node report's runs.
        public var finishedRuns: [RunReport] { shelf.withLock { $0.finishedRuns } }

        /// Verdicts refused because their (session, run) had one already (EA-DUR-6's constraint).
        public var refusedVerdicts: Int { shelf.withLock { $0.refusedVerdicts } }

        /// Sessions with records.
        public var sessionCount: Int { shelf.withLock { $0.records.count } }

        /// The sessions `node` owns, in id order: what a node recovers when it starts again.
        public func sessions(ownedBy node: String) -> [SessionID] {
            shelf.withLock { shelf in
                shelf.owners.filter { $0.value.node == node }.keys.sorted { $0.rawValue < $1.rawValue }
            }
        }

        /// The node that owns `session`, if any.
        public func owner(of session: SessionID) -> String? { shelf.withLock { $0.owners[session]?.node } }

        /// ``SessionStore/append(_:commit:)`` for `node`, which saw the sessions at the epochs in `seen`. A commit
        /// already made is answered as it was, and writes nothing.
        public func append(
            _ records: [SessionRecord], commit: CommitID, node: String, seen: inout [SessionID: UInt64]
        ) -> Set<SessionID> {
            shelf.withLock { shelf in
                if let done = shelf.commits[commit] {
                    for id in done.fenced { seen[id] = nil }
                    for (id, epoch) in done.epochs { seen[id] = epoch }
                    return done.fenced
                }
                var fenced: Set<SessionID> = []
                for record in records where !fenced.contains(record.session) {
                    let id = record.session
                    switch record.change {
                    case .opened where shelf.owners[id] == nil && shelf.records[id] == nil:
                        shelf.owners[id] = (node, 1)
                        seen[id] = 1
                    case .resumed:
                        guard let owner = shelf.owners[id], owner.epoch == seen[id] else { break }
                        shelf.owners[id] = (node, owner.epoch + 1)
                        seen[id] = owner.epoch + 1
                    default: break
                    }
                    guard let owner = shelf.owners[id], owner.node == node, owner.epoch == seen[id] else {
                        fenced.insert(id)
                        seen[id] = nil
                        continue
                    }
                    switch record.change {
                    case .runFinished(let report):
                        if shelf.verdictKeys.insert(RunKey(session: id, run: report.run)).inserted {
                            shelf.finishedRuns.append(report)
                        } else {
                            shelf.refusedVerdicts += 1
                        }
                    case .ended:
                        shelf.records[id] = nil
                        shelf.owners[id] = nil
                        seen[id] = nil
                    default:
                        shelf.records[id, default: []].append(record)
                    }
                }
                var epochs: [SessionID: UInt64] = [:]
                for record in records where !fenced.contains(record.session) {
                    epochs[record.session] = seen[record.session]
                }
                shelf.commits[commit] = Outcome(fenced: fenced, epochs: epochs)
                shelf.commitOrder.append(commit)
                if shelf.commitOrder.count > 2 * Self.rememberedCommits {
                    for old in shelf.commitOrder.prefix(Self.rememberedCommits) { shelf.commits[old] = nil }
                    shelf.commitOrder.removeFirst(Self.rememberedCommits)
                }
                return fenced
            }
        }

        /// ``SessionStore/load(_:)`` for a node that records the epoch it saw in `seen`.
        public func load(_ session: SessionID, seen: inout [SessionID: UInt64]) -> [SessionRecord]? {
            shelf.withLock { shelf in
                guard let records = shelf.records[session], let owner = shelf.owners[session] else { return nil }
                seen[session] = owner.epoch
                return records
            }
        }
    }

    /// The shared storage.
    public let storage: Storage
    /// This node's name, as an owner.
    public let node: String
    private let seen = LockedState([SessionID: UInt64]())

    /// A node named `node` over `storage`.
    public init(storage: Storage = Storage(), node: String = "local") {
        self.storage = storage
        self.node = node
    }

    public func append(_ records: [SessionRecord], commit: CommitID) async throws -> Set<SessionID> {
        appendNow(records, commit: commit)
    }

    public func load(_ session: SessionID) async throws -> [SessionRecord]? {
        loadNow(session)
    }

    /// ``append(_:commit:)`` without suspending, for deterministic drivers such as the simulator.
    public func appendNow(_ records: [SessionRecord], commit: CommitID) -> Set<SessionID> {
        seen.withLock { storage.append(records, commit: commit, node: node, seen: &$0) }
    }

    /// ``load(_:)`` without suspending.
    public func loadNow(_ session: SessionID) -> [SessionRecord]? {
        seen.withLock { storage.load(session, seen: &$0) }
    }
}
