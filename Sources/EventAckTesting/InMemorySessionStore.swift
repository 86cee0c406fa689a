@_spi(Shell) import EventAckProtocol
import EventAckReconciler

/// A `SessionStore` in memory: what the simulator and the tests use to prove recovery, with several nodes over
/// one ``Storage`` (the "database"). Durable only as long as the process; a `ReconcilerService` without a store
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

        /// `SessionStore/append(_:commit:)` for `node`, which saw the sessions at the epochs in `seen`. A commit
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

        /// `SessionStore/load(_:)` for a node that records the epoch it saw in `seen`.
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
