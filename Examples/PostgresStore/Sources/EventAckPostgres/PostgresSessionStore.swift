import EventAckProtocol
import EventAckReconciler
import Foundation
import Logging
import PostgresNIO
import Synchronization

/// A `SessionStore` on PostgreSQL, for several nodes.
///
/// **Durability**: ``append(_:commit:)`` returns once what it wrote committed; with PostgreSQL's default
/// `synchronous_commit = on`, that is once the WAL is flushed to disk. Each call writes every record the service
/// gathered while the previous one was committing (group commit) in one transaction — or, for events and
/// confirmations only, in one statement: one round trip per statement kind, not per event.
///
/// **Ownership**: `eventack_sessions.owner` and `epoch`. A session's `opened` record makes this node its owner at
/// epoch 1; a `resumed` record takes it over with a compare-and-swap on the epoch this node last saw, adding one; every
/// record is written only if this node owns the session at the epoch it knows, so that a node a session moved away
/// from is fenced: its writes are refused and ``append(_:commit:)`` names the sessions it must stop serving.
///
/// **Unknown outcomes** (EA-DUR-7): every row a commit writes to `eventack_records` carries its `CommitID`
/// (unique per session), and a commit that needs a transaction first inserts its id into `eventack_commits`. A retry
/// of a commit whose answer was lost therefore waits for the first attempt if it is still in flight, then either
/// finds it made — and answers from what it wrote, writing nothing again — or makes it. Verdicts are unique per
/// (session, run) (EA-DUR-6) and forwarded requests per request key, so neither is stored twice.
///
/// **Several nodes**: agents anywhere ``forward(_:to:key:retryingFor:)`` to a session they do not hold; its owner
/// reads the requests with ``takeForwarded(limit:)`` and performs them. Nodes heartbeat; a node's sessions are
/// recovered when it starts again (``ownedSessions()``), or adopted by another node when it stays away
/// (``adoptAbandoned(staleAfterSeconds:)``) so that they are resumed or expire, never forgotten.
public final class PostgresSessionStore: SessionStore {
    /// This node's id, as an owner.
    public let node: String
    /// This process's own id, drawn when it starts: tells a node's earlier life from this one.
    public let boot = UUID().uuidString
    /// The connection pool; run it (`PostgresClient/run()`) for as long as the store is used.
    public let client: PostgresClient
    let logger: Logger
    /// The epoch at which this node last saw each session it serves.
    private let seen = Mutex<[String: Int64]>([:])
    /// Forwarded requests being performed here, not yet retired.
    private let claimed = Mutex<Set<Int64>>([])
    /// Sessions this node owns as far as it knows (opened, resumed or adopted here, not yet fenced or ended): what
    /// ``sessionsMovedAway()`` checks.
    private let owned = Mutex<Set<String>>([])
    /// Commits attempted and not yet known to be made: a second attempt of one is a retry (EA-DUR-7).
    private let attempted = Mutex<Set<CommitID>>([])
    /// What wakes this node when another writes for it (`LISTEN`/`NOTIFY`); listened to while ``run()`` runs.
    public let notifications = StoreNotifications()
    /// Whether ``run()`` has started the pool, and who waits for it.
    private let running = Mutex<(started: Bool, waiters: [CheckedContinuation<Void, Never>])>((false, []))

    /// A store for `node` on the database at `url` (`postgres://user[:password]@host[:port]/database`).
    public init(url: String, node: String, logger: Logger) throws {
        guard let components = URLComponents(string: url), ["postgres", "postgresql"].contains(components.scheme),
            let host = components.host, !host.isEmpty, let user = components.user, !user.isEmpty
        else { throw StoreURLError(url: url) }
        let database = components.path.isEmpty ? nil : String(components.path.dropFirst())
        var configuration = PostgresClient.Configuration(
            host: host, port: components.port ?? 5432, username: user, password: components.password,
            database: database, tls: .disable)
        // A connection attempt to a frozen server would otherwise wait 10 s before the next is tried.
        configuration.options.connectTimeout = .seconds(3)
        self.client = PostgresClient(configuration: configuration, backgroundLogger: logger)
        self.node = node
        self.logger = logger
    }

    /// How long a commit may take before its outcome counts as unknown and the caller retries it (EA-DUR-7).
    public static let commitDeadline: Duration = .seconds(10)

    /// A URL the store cannot use.
    public struct StoreURLError: Error, CustomStringConvertible {
        /// The URL given.
        public var url: String
        public var description: String { "not a postgres://user@host[:port]/database URL: \(url)" }
    }

    /// Runs the connection pool until the task is cancelled: start it before anything else uses the store (the
    /// store's methods wait until it has started, so that no lease is attempted on a pool that is not running).
    public func run() async {
        let waiters = running.withLock { state in
            defer { state = (true, []) }
            return state.waiters
        }
        for waiter in waiters { waiter.resume() }
        await withDiscardingTaskGroup { group in
            group.addTask { await self.client.run() }
            group.addTask { await self.notifications.run(client: self.client, logger: self.logger) }
        }
    }

    /// Returns once ``run()`` has started the pool. Called before every query: once it has, without suspending.
    func untilRunning() async {
        guard !running.withLock({ $0.started }) else { return }
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let started = running.withLock { state in
                if !state.started { state.waiters.append(continuation) }
                return state.started
            }
            if started { continuation.resume() }
        }
    }

    /// Creates or upgrades the tables. Waits for ``run()``.
    public func migrate() async throws {
        await untilRunning()
        try await Schema.migrate(client, logger: logger)
    }

    // MARK: SessionStore

    public func append(_ records: [SessionRecord], commit: CommitID) async throws -> Set<SessionID> {
        // A commit this process attempted before may have been made: the answer was lost, not the commit.
        let isRetry = !attempted.withLock { $0.insert(commit).inserted }
        let write = CommitWrite(
            records: records, commit: commit, isRetry: isRetry, node: node, seenEpochs: seen.withLock { $0 },
            logger: logger)
        await untilRunning()
        // The steady state, events and confirmations only, is one statement: atomic on its own, it spares the round
        // trips of BEGIN and COMMIT. (If some sessions were fenced, forwarding their local emits follows as a
        // statement of its own: nothing was written for them that it must be atomic with.)
        let (client, logger) = (self.client, self.logger)
        let (written, epochs) = try await withDeadline(Self.commitDeadline) {
            write.demands.isRecordsOnly
                ? try await client.withConnection { try await write.run(on: $0) }
                : try await client.withTransaction(logger: logger) { try await write.run(on: $0) }
        }
        attempted.withLock { _ = $0.remove(commit) }
        let fenced = Set(write.order).subtracting(written)
        remember(written: written, epochs: epochs, fenced: fenced, demands: write.demands)
        return Set(fenced.map { SessionID($0) })
    }

    /// What this node knows after a commit: the epochs of the sessions it wrote, which it owns now, which it lost.
    private func remember(
        written: Set<String>, epochs: [String: Int64], fenced: Set<String>, demands: CommitWrite.Demands
    ) {
        seen.withLock { seen in
            for (id, epoch) in epochs where written.contains(id) { seen[id] = epoch }
            for id in fenced { seen[id] = nil }
            for id in demands.ended { seen[id] = nil }
        }
        owned.withLock { owned in
            for id in demands.opened.ids + demands.resumed where written.contains(id) { owned.insert(id) }
            owned.subtract(fenced)
            owned.subtract(demands.ended)
        }
        if !demands.origins.isEmpty { claimed.withLock { $0.subtract(demands.origins.map(\.id)) } }
    }

    public func load(_ session: SessionID) async throws -> [SessionRecord]? {
        try await withDeadline(Self.commitDeadline) { try await self.loadNow(session) }
    }

    private func loadNow(_ session: SessionID) async throws -> [SessionRecord]? {
        let id = session.rawValue
        var epoch: Int64?
        for try await value in try await client.query(
            "SELECT epoch FROM eventack_sessions WHERE id = \(id)", logger: logger
        ).decode(Int64.self) {
            epoch = value
        }
        guard let epoch else { return nil }
        let decoder = JSONDecoder()
        var records: [SessionRecord] = []
        for try await body in try await client.query(
            "SELECT body FROM eventack_records WHERE session_id = \(id) ORDER BY n", logger: logger
        ).decode(String.self) {
            records += try decoder.decode([SessionRecord].self, from: Data(body.utf8))
        }
        seen.withLock { $0[id] = epoch }
        return records
    }

    // MARK: Several nodes

    /// Says this node is alive (every few seconds).
    public func heartbeat() async throws {
        try await client.query(
            """
            INSERT INTO eventack_nodes (id, heartbeat_at) VALUES (\(node), now())
            ON CONFLICT (id) DO UPDATE SET heartbeat_at = now()
            """, logger: logger)
    }

    /// The sessions this node owns: what it recovers when it starts again.
    public func ownedSessions() async throws -> [SessionID] {
        var ids: [SessionID] = []
        for try await id in try await client.query(
            "SELECT id FROM eventack_sessions WHERE owner = \(node) ORDER BY id", logger: logger
        ).decode(String.self) {
            ids.append(SessionID(id))
        }
        owned.withLock { $0.formUnion(ids.map(\.rawValue)) }
        return ids
    }

    /// Takes over the sessions of nodes silent for `staleAfterSeconds`, so that each is resumed or expires here.
    public func adoptAbandoned(staleAfterSeconds: Int) async throws -> [SessionID] {
        // A commit retried after an hour is not retried: its id has done its job (EA-DUR-7).
        try await client.query(
            "DELETE FROM eventack_commits WHERE created_at < now() - interval '1 hour'", logger: logger)
        // Requests for sessions that ended before their owner could perform them have nobody to wait for.
        try await client.query(
            """
            DELETE FROM eventack_forwarded f WHERE f.created_at < now() - interval '10 minutes'
                AND NOT EXISTS (SELECT 1 FROM eventack_sessions s WHERE s.id = f.session_id)
            """, logger: logger)
        var ids: [SessionID] = []
        let rows = try await client.query(
            """
            UPDATE eventack_sessions SET owner = \(node), epoch = epoch + 1
            WHERE owner <> \(node) AND owner NOT IN (
                SELECT id FROM eventack_nodes WHERE heartbeat_at > now() - make_interval(secs => \(staleAfterSeconds)))
            RETURNING id, epoch
            """, logger: logger)
        for try await (id, epoch) in rows.decode((String, Int64).self) {
            seen.withLock { $0[id] = epoch }
            _ = owned.withLock { $0.insert(id) }
            ids.append(SessionID(id))
        }
        return ids
    }

    /// The sessions this node owned that another node owns now — adopted while this node could not heartbeat (a
    /// database outage), or resumed elsewhere — although this node had nothing to write for them, so no write of its
    /// own was refused. Stop serving them (`ReconcilerService/release(_:)`): a client waiting on this node for
    /// events would otherwise wait for ever while the owner emits them (found by cluster-chaos.sh).
    public func sessionsMovedAway() async throws -> Set<SessionID> {
        let mine = Array(owned.withLock { $0 })
        guard !mine.isEmpty else { return [] }
        await untilRunning()
        var moved: Set<String> = []
        for try await id in try await client.query(
            "SELECT id FROM eventack_sessions WHERE id = ANY(\(mine)::text[]) AND owner <> \(node)", logger: logger
        ).decode(String.self) {
            moved.insert(id)
        }
        owned.withLock { $0.subtract(moved) }
        seen.withLock { seen in for id in moved { seen[id] = nil } }
        return Set(moved.map { SessionID($0) })
    }

    /// The principal a session belongs to, if the store knows the session.
    public func principal(of session: SessionID) async throws -> String? {
        try await withDeadline(.seconds(5)) { try await self.principalNow(of: session) }
    }

    private func principalNow(of session: SessionID) async throws -> String? {
        var found: String?
        for try await principal in try await client.query(
            "SELECT principal FROM eventack_sessions WHERE id = \(session.rawValue)", logger: logger
        ).decode(String.self) {
            found = principal
        }
        return found
    }

    /// Asks the owner of `session` to perform `request`. Stored until performed; an event is retired with its
    /// record. Stored once however often it is retried with the same `key` (EA-DUR-7): a write whose answer was lost
    /// is retried here, for up to `retryingFor`, with the key it was first written with.
    public func forward(
        _ request: Forwarded, to session: SessionID, key: String = UUID().uuidString,
        retryingFor limit: Duration = .seconds(10)
    ) async throws {
        let body = String(decoding: try JSONEncoder().encode(request), as: UTF8.self)
        await untilRunning()
        let clock = ContinuousClock()
        let deadline = clock.now + limit
        var delay = Duration.milliseconds(10)
        while true {
            do {
                // The owner is woken by the notification (sent when the insert commits), not by its next poll.
                for try await _ in try await client.query(
                    """
                    WITH f AS (
                        INSERT INTO eventack_forwarded (session_id, body, request_key)
                        VALUES (\(session.rawValue), \(body), \(key)) ON CONFLICT (request_key) DO NOTHING
                    )
                    SELECT pg_notify(\(StoreNotifications.channel), 'forwarded')
                    """, logger: logger)
                {}
                return
            } catch {
                guard clock.now + delay < deadline else { throw error }
                try await Task.sleep(for: delay)
                delay = min(delay * 2, .seconds(1))
            }
        }
    }

    /// Requests forwarded to sessions this node owns, oldest first, except those it is performing already. Mark each
    /// one performed with ``performing(_:)`` (events) or ``retire(_:)`` (progress).
    public func takeForwarded(limit: Int = 1000) async throws -> [ForwardedRequest] {
        let busy = claimed.withLock { $0 }
        var requests: [ForwardedRequest] = []
        let decoder = JSONDecoder()
        for try await (id, session, body) in try await client.query(
            """
            SELECT f.id, f.session_id, f.body FROM eventack_forwarded f
            JOIN eventack_sessions s ON s.id = f.session_id AND s.owner = \(node)
            ORDER BY f.id LIMIT \(limit)
            """, logger: logger
        ).decode((Int64, String, String).self) where !busy.contains(id) {
            let request = try decoder.decode(Forwarded.self, from: Data(body.utf8))
            requests.append(ForwardedRequest(id: id, session: SessionID(session), request: request))
        }
        return requests
    }

    /// The event of request `id` was emitted here: it is retired with the event's record.
    public func performing(_ id: Int64) {
        _ = claimed.withLock { $0.insert(id) }
    }

    /// Retires requests performed without a record (progress).
    public func retire(_ ids: [Int64]) async throws {
        guard !ids.isEmpty else { return }
        try await client.query("DELETE FROM eventack_forwarded WHERE id = ANY(\(ids)::bigint[])", logger: logger)
    }

    /// The confirmation report across every node.
    public func clusterReport(now: UInt64) async throws -> ClusterReport {
        var report = ClusterReport(
            generatedAt: now, nodes: [:], sessions: 0, runVerdicts: [:], overall: ConfirmationStats(),
            unconfirmedRuns: [])
        for try await (id, age) in try await client.query(
            "SELECT id, (extract(epoch FROM now() - heartbeat_at) * 1000)::bigint FROM eventack_nodes", logger: logger
        ).decode((String, Int64).self) {
            report.nodes[id] = age
        }
        for try await count in try await client.query("SELECT count(*) FROM eventack_sessions", logger: logger)
            .decode(Int64.self)
        {
            report.sessions = Int(count)
        }
        let decoder = JSONDecoder()
        for try await (verdict, body) in try await client.query(
            "SELECT verdict, report FROM eventack_runs ORDER BY n", logger: logger
        ).decode((String, String).self) {
            report.runVerdicts[verdict, default: 0] += 1
            let run = try decoder.decode(RunReport.self, from: Data(body.utf8))
            report.overall.merge(run.stats)
            if run.verdict != .confirmed, report.unconfirmedRuns.count < 500 { report.unconfirmedRuns.append(run) }
        }
        return report
    }
}

/// One session's records of a commit, as the JSON text stored in `eventack_records.body`: the bytes go to PostgreSQL
/// as they are, with no `String` made of them first (and no UTF-8 check of what ``SessionRecord`` wrote as UTF-8).
struct RecordsText: PostgresNonThrowingEncodable, PostgresArrayEncodable {
    var utf8: [UInt8]

    static var psqlType: PostgresDataType { .text }
    static var psqlFormat: PostgresFormat { .binary }
    static var psqlArrayType: PostgresDataType { .textArray }

    func encode<JSONEncoder: PostgresJSONEncoder>(
        into byteBuffer: inout ByteBuffer, context: PostgresEncodingContext<JSONEncoder>
    ) {
        byteBuffer.writeBytes(utf8)
    }
}

/// A commit's row for one session, written only while this node owns the session at the epoch it knows (the fence);
/// returns the session's id when written.
struct InsertSessionRow: PostgresPreparedStatement {
    static let sql = """
        INSERT INTO eventack_records (session_id, body, commit_id)
        SELECT s.id, $2::text, $5 FROM eventack_sessions s WHERE s.id = $1 AND s.owner = $3 AND s.epoch = $4
        ON CONFLICT (commit_id, session_id) DO NOTHING RETURNING session_id
        """
    typealias Row = String

    var session: String
    var body: RecordsText
    var node: String
    var epoch: Int64
    var commit: UUID

    func makeBindings() throws -> PostgresBindings {
        var bindings = PostgresBindings(capacity: 5)
        bindings.append(session)
        bindings.append(body)
        bindings.append(node)
        bindings.append(epoch)
        bindings.append(commit)
        return bindings
    }

    func decodeRow(_ row: PostgresRow) throws -> String { try row.decode(String.self) }
}

extension CommitID {
    /// As PostgreSQL's `uuid`.
    var uuid: UUID {
        let b = bytes
        return UUID(
            uuid: (b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15])
        )
    }
}
