import EventAckProtocol
import EventAckPublish
import EventAckReconciler
import PostgresNIO

/// The publish API's runs and producer ids in PostgreSQL (EA-PUB-13): `eventack_publish_runs` (one row per run id,
/// across the deployment) and `eventack_published` (one row per event and session, written by
/// ``CommitWrite`` in the commit of the event's record).
extension PostgresSessionStore: PublishLedger {
    public func register(_ run: LedgerRun) async throws -> LedgerRun {
        await untilRunning()
        var inserted = false
        for try await _ in try await client.query(
            """
            INSERT INTO eventack_publish_runs (run, request, sessions, opened_at)
            VALUES (\(run.run), \(run.request.json), \(run.sessions.map(\.rawValue))::text[], \(Int64(run.openedAt)))
            ON CONFLICT (run) DO NOTHING RETURNING run
            """, logger: logger
        ).decode(String.self) {
            inserted = true
        }
        if inserted { return run }
        // Recorded before (a run may be deleted past its retention in between: then the id is free again).
        if let recorded = try await self.run(run.run) { return recorded }
        return try await register(run)
    }

    public func run(_ id: String) async throws -> LedgerRun? {
        await untilRunning()
        var found: (request: String, sessions: [String], openedAt: Int64, endedAt: Int64?)?
        for try await row in try await client.query(
            "SELECT request, sessions, opened_at, ended_at FROM eventack_publish_runs WHERE run = \(id)",
            logger: logger
        ).decode((String, [String], Int64, Int64?).self) {
            found = row
        }
        guard let found else { return nil }
        let sessions = found.sessions.map { SessionID($0) }
        var events: [LedgerEvent] = []
        var place: [String: Int] = [:]
        // The first session's seqs give the order the events were taken in.
        for try await (key, session, seq, kind, confirm, endsRun, payload) in try await client.query(
            """
            SELECT id, session_id, seq, kind, confirm, ends_run, payload FROM eventack_published
            WHERE run = \(id) ORDER BY session_id = \(found.sessions.first ?? "") DESC, seq
            """, logger: logger
        ).decode((String, String, Int64, String, String, Bool?, String).self) {
            if place[key] == nil {
                place[key] = events.count
                let body = PublishedEvent.body(
                    id: key, kind: kind, confirm: ConfirmationLevel(rawValue: confirm) ?? .receipt,
                    payload: (try? JSONValue(parsingObject: payload)) ?? .object([]), endsRun: endsRun)
                events.append(LedgerEvent(id: key, body: body, seqs: [:]))
            }
            events[place[key]!].seqs[SessionID(session)] = Seq(seq)
        }
        return LedgerRun(
            run: id, request: try OpenRunRequest(body: found.request), sessions: sessions,
            openedAt: UInt64(found.openedAt), endedAt: found.endedAt.map(UInt64.init), events: events)
    }

    public func sessions(ofRun id: String) async throws -> [SessionID]? {
        await untilRunning()
        for try await sessions in try await client.query(
            "SELECT sessions FROM eventack_publish_runs WHERE run = \(id)", logger: logger
        ).decode([String].self) {
            return sessions.map { SessionID($0) }
        }
        return nil
    }

    public func ended(_ run: String, at: UInt64) async throws {
        await untilRunning()
        try await client.query(
            "UPDATE eventack_publish_runs SET ended_at = \(Int64(at)) WHERE run = \(run) AND ended_at IS NULL",
            logger: logger)
    }

    public func agentStreamRead(_ run: String) async throws {
        await untilRunning()
        try await client.query(
            "UPDATE eventack_publish_runs SET reader_node = \(node), reader_boot = \(boot) WHERE run = \(run)",
            logger: logger)
    }

    /// Agent runs not ended whose session this node owns and whose stream's reader is gone: its node has not
    /// heartbeated for `staleAfterSeconds`, or it is this node before it started again (EA-PUB-14).
    public func orphanedAgentRuns(staleAfterSeconds: Int) async throws -> [String] {
        await untilRunning()
        var runs: [String] = []
        for try await run in try await client.query(
            """
            SELECT r.run FROM eventack_publish_runs r
            JOIN eventack_sessions s ON s.id = r.sessions[1] AND s.owner = \(node)
            WHERE r.reader_node IS NOT NULL AND r.ended_at IS NULL AND (
                (r.reader_node = \(node) AND r.reader_boot <> \(boot))
                OR (r.reader_node <> \(node) AND r.reader_node NOT IN (
                    SELECT id FROM eventack_nodes WHERE heartbeat_at > now() - make_interval(secs => \(staleAfterSeconds)))))
            LIMIT 100
            """, logger: logger
        ).decode(String.self) {
            runs.append(run)
        }
        return runs
    }

    /// Retires the runs that ended more than `retentionMs` before `now` (Unix ms), with their ids, and runs left open
    /// for a week (their sessions are long gone); and relayed requests nobody collected within a minute.
    public func retirePublished(now: UInt64, retentionMs: UInt64) async throws {
        await untilRunning()
        let ended = Int64(now) - Int64(retentionMs)
        let abandoned = Int64(now) - 7 * 24 * 3_600_000
        try await client.withTransaction(logger: logger) { connection in
            try await connection.query(
                """
                WITH gone AS (
                    DELETE FROM eventack_publish_runs WHERE ended_at < \(ended) OR opened_at < \(abandoned)
                    RETURNING run
                )
                DELETE FROM eventack_published p USING gone WHERE p.run = gone.run
                """, logger: logger)
            try await connection.query(
                "DELETE FROM eventack_relay WHERE created_at < now() - interval '1 minute'", logger: logger)
        }
    }
}
