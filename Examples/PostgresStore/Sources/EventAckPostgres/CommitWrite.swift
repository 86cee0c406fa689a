import EventAckProtocol
import EventAckPublish
import EventAckReconciler
import Foundation
import Logging
import PostgresNIO

/// One append's statements, in order, on one connection — in a transaction unless its records are events and
/// confirmations only (then the records' insert is the one statement, atomic on its own). Each statement its own
/// function; ``PostgresSessionStore/append(_:commit:)`` runs ``run(on:)`` and remembers what it did.
struct CommitWrite: Sendable {
    /// The sessions written, and the epoch this node holds each at now.
    typealias Outcome = (written: Set<String>, epochs: [String: Int64])

    let records: [SessionRecord]
    let demands: Demands
    /// The sessions of the commit's rows, in order, and each row's JSON.
    let order: [String]
    let batches: [RecordsText]
    let commit: CommitID
    let commitID: UUID
    /// Whether this process attempted the commit before: it may have been made (EA-DUR-7).
    let isRetry: Bool
    let node: String
    let seenEpochs: [String: Int64]
    let logger: Logger

    init(
        records: [SessionRecord], commit: CommitID, isRetry: Bool, node: String, seenEpochs: [String: Int64],
        logger: Logger
    ) {
        self.records = records
        demands = Demands(records)
        // One row per session per commit: its records as a JSON array, in order. A row per record cost PostgreSQL
        // a tuple, an index entry and a foreign-key check each.
        let rows = SessionRecord.jsonArraysBySession(records)
        order = rows.map(\.session.rawValue)
        batches = rows.map { RecordsText(utf8: $0.json) }
        self.commit = commit
        commitID = commit.uuid
        self.isRetry = isRetry
        self.node = node
        self.seenEpochs = seenEpochs
        self.logger = logger
    }

    func run(on connection: PostgresConnection) async throws -> Outcome {
        if !demands.isRecordsOnly, try await !claim(on: connection) { return try await readBack(on: connection) }
        var epochs = seenEpochs
        try await openSessions(on: connection, epochs: &epochs)
        try await resumeSessions(on: connection, epochs: &epochs)
        var written = try await insertRows(on: connection, epochs: epochs)
        if isRetry && demands.isRecordsOnly {
            // The rows a first attempt wrote conflicted (after waiting for it, if it was in flight).
            written.formUnion(try await readBack(on: connection).written)
        }
        try await recordVerdicts(of: written, on: connection)
        try await deleteEnded(of: written, on: connection)
        try await retireForwarded(of: written, on: connection)
        try await forwardMoved(notIn: written, on: connection)
        return (written, epochs)
    }

    /// Says first that this commit is being made; false when it was made already. A retry waits here for an attempt
    /// still in flight, and finds it made if it was (EA-DUR-7).
    private func claim(on connection: PostgresConnection) async throws -> Bool {
        var fresh = false
        for try await _ in try await connection.query(
            "INSERT INTO eventack_commits (id) VALUES (\(commitID)) ON CONFLICT DO NOTHING RETURNING id",
            logger: logger
        ).decode(UUID.self) {
            fresh = true
        }
        return fresh
    }

    /// What a made commit did: the sessions it wrote, and their epochs now if this node still owns them.
    private func readBack(on connection: PostgresConnection) async throws -> Outcome {
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

    /// New sessions are this node's, at epoch 1.
    private func openSessions(on connection: PostgresConnection, epochs: inout [String: Int64]) async throws {
        guard !demands.opened.ids.isEmpty else { return }
        let rows = try await connection.query(
            """
            INSERT INTO eventack_sessions (id, principal, owner, epoch)
            SELECT id, principal, \(node), 1
            FROM unnest(\(demands.opened.ids)::text[], \(demands.opened.principals)::text[]) AS u(id, principal)
            ON CONFLICT (id) DO NOTHING RETURNING id
            """, logger: logger)
        for try await id in rows.decode(String.self) { epochs[id] = 1 }
    }

    /// Resumed sessions move here if they are still as this node saw them: the compare-and-swap (EA-DUR-4).
    private func resumeSessions(on connection: PostgresConnection, epochs: inout [String: Int64]) async throws {
        guard !demands.resumed.isEmpty else { return }
        let known = demands.resumed.map { epochs[$0] ?? -1 }
        let rows = try await connection.query(
            """
            UPDATE eventack_sessions s SET owner = \(node), epoch = s.epoch + 1, touched_at = now()
            FROM unnest(\(demands.resumed)::text[], \(known)::bigint[]) AS u(id, epoch)
            WHERE s.id = u.id AND s.epoch = u.epoch RETURNING s.id, s.epoch
            """, logger: logger)
        for try await (id, epoch) in rows.decode((String, Int64).self) { epochs[id] = epoch }
    }

    /// The records, one row per session, written only where this node owns the session at the epoch it knows (the
    /// fence), and in the same statement — atomic with them, without a transaction — the producer ids of the published
    /// events among them, for the sessions written (EA-PUB-13): an id is taken exactly when its event is durable.
    /// Returns the sessions written.
    private func insertRows(on connection: PostgresConnection, epochs: [String: Int64]) async throws -> Set<String> {
        let rowEpochs = order.map { epochs[$0] ?? -1 }
        var written: Set<String> = []
        // One session with no published event (a busy session's commit, the common case at high rates) skips the
        // arrays — its records, tens of kilobytes, are not copied into an array and out again on either side — and the
        // parsing and planning of a statement: it is prepared once per connection.
        if order.count == 1, demands.published.isEmpty {
            let insert = InsertSessionRow(
                session: order[0], body: batches[0], node: node, epoch: rowEpochs[0], commit: commitID)
            for try await id in try await connection.execute(insert, logger: logger) { written.insert(id) }
            return written
        }
        let ids = demands.published
        let inserted = try await connection.query(
            """
            WITH rec AS (
                INSERT INTO eventack_records (session_id, body, commit_id)
                SELECT u.id, u.body, \(commitID) FROM unnest(\(order)::text[], \(batches)::text[],
                    \(rowEpochs)::bigint[]) WITH ORDINALITY AS u(id, body, epoch, o)
                JOIN eventack_sessions s ON s.id = u.id AND s.owner = \(node) AND s.epoch = u.epoch
                ORDER BY u.o ON CONFLICT (commit_id, session_id) DO NOTHING RETURNING session_id
            ), ids AS (
                INSERT INTO eventack_published (run, id, session_id, seq, kind, confirm, ends_run, payload)
                SELECT * FROM unnest(
                    \(ids.map(\.run))::text[], \(ids.map(\.id))::text[], \(ids.map(\.session))::text[],
                    \(ids.map(\.seq))::bigint[], \(ids.map(\.kind))::text[], \(ids.map(\.confirm))::text[],
                    \(ids.map(\.endsRun))::boolean[], \(ids.map(\.payload))::text[]) AS u(r, i, s, q, k, c, e, p)
                WHERE s IN (SELECT session_id FROM rec)
                ON CONFLICT DO NOTHING
            )
            SELECT session_id FROM rec
            """, logger: logger)
        for try await id in inserted.decode(String.self) { written.insert(id) }
        return written
    }

    /// One verdict per (session, run), whatever is sent (EA-DUR-6): a second is refused, and said.
    private func recordVerdicts(of written: Set<String>, on connection: PostgresConnection) async throws {
        let kept = demands.runs.filter { written.contains($0.session) }.map { run in
            (session: run.session, report: run.report, body: run.report.json())
        }
        guard !kept.isEmpty else { return }
        var recorded = 0
        for try await _ in try await connection.query(
            """
            INSERT INTO eventack_runs (session_id, run, principal, verdict, node, report)
            SELECT u.s, u.r, u.p, u.v, \(node), u.b FROM unnest(
                \(kept.map(\.session))::text[], \(kept.map(\.report.run))::text[],
                \(kept.map(\.report.principal))::text[], \(kept.map(\.report.verdict.rawValue))::text[],
                \(kept.map(\.body))::text[]) AS u(s, r, p, v, b)
            ON CONFLICT (session_id, run) DO NOTHING RETURNING n
            """, logger: logger
        ).decode(Int64.self) {
            recorded += 1
        }
        if recorded < kept.count {
            logger.error(
                "a second verdict for a run was refused (EA-DUR-6)", metadata: ["refused": "\(kept.count - recorded)"])
        }
    }

    /// Ended sessions go; their runs' verdicts stay.
    private func deleteEnded(of written: Set<String>, on connection: PostgresConnection) async throws {
        let ended = demands.ended.filter { written.contains($0) }
        guard !ended.isEmpty else { return }
        try await connection.query(
            "DELETE FROM eventack_sessions WHERE id = ANY(\(ended)::text[]) AND owner = \(node)", logger: logger)
    }

    /// The forwarded requests these records perform are retired with them, atomically (EA-DUR-5).
    private func retireForwarded(of written: Set<String>, on connection: PostgresConnection) async throws {
        let retired = demands.origins.filter { written.contains($0.session) }.map(\.id)
        guard !retired.isEmpty else { return }
        try await connection.query(
            "DELETE FROM eventack_forwarded WHERE id = ANY(\(retired)::bigint[])", logger: logger)
    }

    /// An agent here emitted to a copy of a session that has moved: its events go to the owner, in order, instead of
    /// being lost with the refused records (EA-DUR-4, EA-DUR-5). Each keyed by the commit and its place in it, so
    /// that a retry stores it once. Encoded only now: nearly always every session is written and nothing moves.
    private func forwardMoved(notIn written: Set<String>, on connection: PostgresConnection) async throws {
        let moved = try demands.localEmits.compactMap { index -> (session: String, body: String, key: String)? in
            let record = records[index]
            guard !written.contains(record.session.rawValue),
                case .emitted(_, let run, let kind, _, let confirm, let endsRun, let payload, _) = record.change
            else { return nil }
            let request = Forwarded.event(
                run: run, kind: kind, payload: payload.json, confirm: confirm, endsRun: endsRun)
            let body = String(decoding: try JSONEncoder().encode(request), as: UTF8.self)
            return (record.session.rawValue, body, "\(commit):\(index)")
        }
        guard !moved.isEmpty else { return }
        try await connection.query(
            """
            INSERT INTO eventack_forwarded (session_id, body, request_key)
            SELECT u.s, u.b, u.k FROM unnest(\(moved.map(\.session))::text[], \(moved.map(\.body))::text[],
                \(moved.map(\.key))::text[]) WITH ORDINALITY AS u(s, b, k, o)
            ORDER BY u.o ON CONFLICT (request_key) DO NOTHING
            """, logger: logger)
    }
}

extension CommitWrite {
    /// What a commit's records ask of the tables besides the records themselves.
    struct Demands: Sendable {
        var opened: (ids: [String], principals: [String]) = ([], [])
        var resumed: [String] = []
        var runs: [(session: String, report: RunReport)] = []
        var ended: [String] = []
        /// Forwarded requests that these records perform: retired with them.
        var origins: [(session: String, id: Int64)] = []
        /// Indices into the records of local emits: forwarded only if their session moved, which is rare.
        var localEmits: [Int] = []
        /// Published events: their producer ids are recorded with them (EA-PUB-13).
        var published: [Published] = []

        struct Published: Sendable {
            var session: String
            var run: String
            var id: String
            var seq: Int64
            var kind: String
            var confirm: String
            var endsRun: Bool
            var payload: String
        }

        /// Events and confirmations only (the steady state, published events' ids included): one statement, no
        /// transaction.
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
                case .emitted(let seq, let run, let kind, _, let confirm, let endsRun, let payload, let origin):
                    if let origin, let number = Int64(origin) {
                        origins.append((id, number))
                    } else {
                        localEmits.append(index)
                        if let key = PublishedEvent.id(fromOrigin: origin) {
                            published.append(
                                Published(
                                    session: id, run: run, id: key, seq: Int64(seq), kind: kind,
                                    confirm: confirm.rawValue, endsRun: endsRun, payload: payload.json))
                        }
                    }
                case .confirmed, .failed, .runRequested:
                    break
                }
            }
        }
    }
}
