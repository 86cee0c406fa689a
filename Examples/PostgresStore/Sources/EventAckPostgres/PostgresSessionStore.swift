import EventAckProtocol
import EventAckReconciler
import Foundation
import Logging
import PostgresNIO
import Synchronization

/// A ``SessionStore`` on PostgreSQL, for several nodes.
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
/// **Unknown outcomes** (EA-DUR-7): every row a commit writes to `eventack_records` carries its ``CommitID``
/// (unique per session), and a commit that needs a transaction first inserts its id into `eventack_commits`. A retry
/// of a commit whose answer was lost therefore waits for the first attempt if it is still in flight, then either
/// finds it made — and answers from what it wrote, writing nothing again — or makes it. Verdicts are unique per
/// (session, run) (EA-DUR-6) and forwarded requests per request key, so neither is stored twice.
///
/// **Several nodes**: agents anywhere ``forward(_:to:)`` to a session they do not hold; its owner reads the requests
/// with ``takeForwarded()`` and performs them. Nodes heartbeat; a node's sessions are recovered when it starts again
/// (``ownedSessions()``), or adopted by another node when it stays away (``adoptAbandoned(staleAfterSeconds:)``) so that
/// they are resumed or expire, never forgotten.
public final class PostgresSessionStore: SessionStore {
    /// This node's id, as an owner.
    public let node: String
    /// The connection pool; run it (``PostgresClient/run()``) for as long as the store is used.
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
    /// Whether ``run()`` has started the pool, and who waits for it.
    private let running = Mutex<(started: Bool, waiters: [CheckedContinuation<Void, Never>])>((false, []))

    /// A store for `node` on the database at `url` (`postgres://user[:password]@host[:port]/database`).
    public init(url: String, node: String, logger: Logger) throws {
        guard let components = URLComponents(string: url), ["postgres", "postgresql"].contains(components.scheme),
            let host = components.host, let user = components.user
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
        await client.run()
    }

    /// Returns once ``run()`` has started the pool.
    func untilRunning() async {
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
        let demands = Demands(records)
        // One row per session per commit: its records as a JSON array, in order. A row per record cost PostgreSQL
        // a tuple, an index entry and a foreign-key check each.
        let rows = SessionRecord.jsonArraysBySession(records)
        let order = rows.map(\.session.rawValue)
        let batches = rows.map { RecordsText(utf8: $0.json) }
        let node = self.node
        let logger = self.logger
        let commitID = commit.uuid
        // A commit this process attempted before may have been made: the answer was lost, not the commit.
        let isRetry = !attempted.withLock { $0.insert(commit).inserted }
        let seenEpochs = seen.withLock { $0 }
        /// What a made commit did: the sessions it wrote, and their epochs now if this node still owns them.
        @Sendable func readBack(on connection: PostgresConnection) async throws -> (
            written: Set<String>, epochs: [String: Int64]
        ) {
            var written: Set<String> = []
            for try await id in try await connection.query(
                "SELECT session_id FROM eventack_records WHERE commit_id = \(commitID)", logger: logger
            ).decode(String.self) {
                written.insert(id)
            }
            var epochs = seenEpochs
            for try await (id, epoch) in try await connection.query(
                "SELECT id, epoch FROM eventack_sessions WHERE id = ANY(\(Array(written))::text[]) AND owner = \(node)",
                logger: logger
            ).decode((String, Int64).self) {
                epochs[id] = epoch
            }
            return (written, epochs)
        }
        @Sendable func write(on connection: PostgresConnection) async throws -> (
            written: Set<String>, epochs: [String: Int64]
        ) {
            var epochs = seenEpochs
            if !demands.isRecordsOnly {
                // First, that this commit is being made: a retry waits here for an attempt still in flight, and
                // finds it made if it was — then it answers from what that attempt wrote (EA-DUR-7).
                var fresh = false
                for try await _ in try await connection.query(
                    "INSERT INTO eventack_commits (id) VALUES (\(commitID)) ON CONFLICT DO NOTHING RETURNING id",
                    logger: logger
                ).decode(UUID.self) {
                    fresh = true
                }
                if !fresh { return try await readBack(on: connection) }
            }
            if !demands.opened.ids.isEmpty {
                let rows = try await connection.query(
                    """
                    INSERT INTO eventack_sessions (id, principal, owner, epoch)
                    SELECT id, principal, \(node), 1
                    FROM unnest(\(demands.opened.ids)::text[], \(demands.opened.principals)::text[]) AS u(id, principal)
                    ON CONFLICT (id) DO NOTHING RETURNING id
                    """, logger: logger)
                for try await id in rows.decode(String.self) { epochs[id] = 1 }
            }
            if !demands.resumed.isEmpty {
                let known = demands.resumed.map { epochs[$0] ?? -1 }
                let rows = try await connection.query(
                    """
                    UPDATE eventack_sessions s SET owner = \(node), epoch = s.epoch + 1, touched_at = now()
                    FROM unnest(\(demands.resumed)::text[], \(known)::bigint[]) AS u(id, epoch)
                    WHERE s.id = u.id AND s.epoch = u.epoch RETURNING s.id, s.epoch
                    """, logger: logger)
                for try await (id, epoch) in rows.decode((String, Int64).self) { epochs[id] = epoch }
            }
            let rowEpochs = order.map { epochs[$0] ?? -1 }
            // One session (a busy session's commit, the common case at high rates) skips the arrays — its records,
            // tens of kilobytes, are not copied into an array and out again on either side — and the parsing and
            // planning of a statement: it is prepared once per connection.
            var written: Set<String> = []
            if order.count == 1 {
                let insert = InsertSessionRow(
                    session: order[0], body: batches[0], node: node, epoch: rowEpochs[0], commit: commitID)
                for try await id in try await connection.execute(insert, logger: logger) { written.insert(id) }
            } else {
                let inserted = try await connection.query(
                    """
                    INSERT INTO eventack_records (session_id, body, commit_id)
                    SELECT u.id, u.body, \(commitID) FROM unnest(\(order)::text[], \(batches)::text[], \(rowEpochs)::bigint[])
                        WITH ORDINALITY AS u(id, body, epoch, o)
                    JOIN eventack_sessions s ON s.id = u.id AND s.owner = \(node) AND s.epoch = u.epoch
                    ORDER BY u.o ON CONFLICT (commit_id, session_id) DO NOTHING RETURNING session_id
                    """, logger: logger)
                for try await id in inserted.decode(String.self) { written.insert(id) }
            }
            if isRetry && demands.isRecordsOnly {
                // The rows a first attempt wrote conflicted above (after waiting for it, if it was in flight).
                written.formUnion(try await readBack(on: connection).written)
            }
            let keptRuns = demands.runs.filter { written.contains($0.session) }.map { run in
                (session: run.session, report: run.report, body: run.report.json())
            }
            if !keptRuns.isEmpty {
                // One verdict per (session, run), whatever is sent (EA-DUR-6): a second is refused, and said.
                var recorded = 0
                for try await _ in try await connection.query(
                    """
                    INSERT INTO eventack_runs (session_id, run, principal, verdict, node, report)
                    SELECT u.s, u.r, u.p, u.v, \(node), u.b FROM unnest(
                        \(keptRuns.map(\.session))::text[], \(keptRuns.map(\.report.run))::text[],
                        \(keptRuns.map(\.report.principal))::text[], \(keptRuns.map(\.report.verdict.rawValue))::text[],
                        \(keptRuns.map(\.body))::text[]) AS u(s, r, p, v, b)
                    ON CONFLICT (session_id, run) DO NOTHING RETURNING n
                    """, logger: logger
                ).decode(Int64.self) {
                    recorded += 1
                }
                if recorded < keptRuns.count {
                    logger.error(
                        "a second verdict for a run was refused (EA-DUR-6)",
                        metadata: ["refused": "\(keptRuns.count - recorded)"])
                }
            }
            let keptEnded = demands.ended.filter { written.contains($0) }
            if !keptEnded.isEmpty {
                try await connection.query(
                    "DELETE FROM eventack_sessions WHERE id = ANY(\(keptEnded)::text[]) AND owner = \(node)",
                    logger: logger)
            }
            let retired = demands.origins.filter { written.contains($0.session) }.map(\.id)
            if !retired.isEmpty {
                try await connection.query(
                    "DELETE FROM eventack_forwarded WHERE id = ANY(\(retired)::bigint[])", logger: logger)
            }
            // An agent here emitted to a copy of a session that has moved: its events go to the owner, in order,
            // instead of being lost with the refused records (EA-DUR-4, EA-DUR-5). Each keyed by the commit and its
            // place in it, so that a retry stores it once.
            // Encoded only now: nearly always every session is written and nothing moves.
            let moved = try demands.localEmits.compactMap { index -> (session: String, body: String, key: String)? in
                let record = records[index]
                guard !written.contains(record.session.rawValue),
                    case .emitted(_, let run, let kind, _, let confirm, let endsRun, let payload, _) = record.change
                else { return nil }
                let request = Forwarded.event(
                    run: run, kind: kind, payload: payload.json, confirm: confirm, endsRun: endsRun)
                return (
                    record.session.rawValue, String(decoding: try JSONEncoder().encode(request), as: UTF8.self),
                    "\(commit):\(index)"
                )
            }
            if !moved.isEmpty {
                try await connection.query(
                    """
                    INSERT INTO eventack_forwarded (session_id, body, request_key)
                    SELECT u.s, u.b, u.k FROM unnest(\(moved.map(\.session))::text[], \(moved.map(\.body))::text[],
                        \(moved.map(\.key))::text[]) WITH ORDINALITY AS u(s, b, k, o)
                    ORDER BY u.o ON CONFLICT (request_key) DO NOTHING
                    """, logger: logger)
            }
            return (written, epochs)
        }
        await untilRunning()
        // The steady state, events and confirmations only, is one statement: atomic on its own, it spares the round
        // trips of BEGIN and COMMIT. (If some sessions were fenced, forwarding their local emits follows as a
        // statement of its own: nothing was written for them that it must be atomic with.)
        let client = self.client
        let (written, epochs) = try await withDeadline(Self.commitDeadline) {
            demands.isRecordsOnly
                ? try await client.withConnection { try await write(on: $0) }
                : try await client.withTransaction(logger: logger) { try await write(on: $0) }
        }
        attempted.withLock { _ = $0.remove(commit) }
        let fenced = Set(order).subtracting(written)
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
        return Set(fenced.map { SessionID($0) })
    }

    /// What a commit's records ask of the tables besides the records themselves.
    private struct Demands {
        var opened: (ids: [String], principals: [String]) = ([], [])
        var resumed: [String] = []
        var runs: [(session: String, report: RunReport)] = []
        var ended: [String] = []
        /// Forwarded requests that these records perform: retired with them.
        var origins: [(session: String, id: Int64)] = []
        /// Indices into the records of local emits: forwarded only if their session moved, which is rare.
        var localEmits: [Int] = []

        /// Events and confirmations only (the steady state): one statement, no transaction.
        var isRecordsOnly: Bool {
            opened.ids.isEmpty && resumed.isEmpty && runs.isEmpty && ended.isEmpty && origins.isEmpty
        }

        init(_ records: [SessionRecord]) {
            for index in records.indices {
                let id = records[index].session.rawValue
                switch records[index].change {
                case .opened(let principal, _, _, _, _):
                    opened.ids.append(id)
                    opened.principals.append(principal)
                case .resumed:
                    if !resumed.contains(id) { resumed.append(id) }
                case .runFinished(let report):
                    runs.append((id, report))
                case .ended:
                    ended.append(id)
                case .emitted(_, _, _, _, _, _, _, let origin):
                    if let origin, let number = Int64(origin) {
                        origins.append((id, number))
                    } else {
                        localEmits.append(index)
                    }
                case .confirmed, .failed, .runRequested:
                    break
                }
            }
        }
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
    /// own was refused. Stop serving them (``ReconcilerService/release(_:)``): a client waiting on this node for
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
                try await client.query(
                    """
                    INSERT INTO eventack_forwarded (session_id, body, request_key)
                    VALUES (\(session.rawValue), \(body), \(key)) ON CONFLICT (request_key) DO NOTHING
                    """, logger: logger)
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
