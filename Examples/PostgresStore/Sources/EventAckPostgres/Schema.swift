import Logging
import PostgresNIO

/// The store's tables, created and upgraded by numbered migrations, each applied once in its own transaction
/// under an advisory lock, so that several nodes starting together migrate once.
enum Schema {
    /// Migration `n` is `migrations[n - 1]`. Never edit one that shipped: add the next.
    static let migrations: [[PostgresQuery]] = [
        [
            """
            CREATE TABLE eventack_sessions (
                id text PRIMARY KEY,
                principal text NOT NULL,
                owner text NOT NULL,
                epoch bigint NOT NULL,
                touched_at timestamptz NOT NULL DEFAULT now()
            )
            """,
            "CREATE INDEX eventack_sessions_owner ON eventack_sessions (owner)",
            """
            CREATE TABLE eventack_records (
                n bigserial PRIMARY KEY,
                session_id text NOT NULL REFERENCES eventack_sessions (id) ON DELETE CASCADE,
                -- the records of one commit for this session, as a JSON array, in order
                body text NOT NULL
            )
            """,
            "CREATE INDEX eventack_records_session ON eventack_records (session_id, n)",
            """
            CREATE TABLE eventack_runs (
                n bigserial PRIMARY KEY,
                session_id text NOT NULL,
                run text NOT NULL,
                principal text NOT NULL,
                verdict text NOT NULL,
                node text NOT NULL,
                report text NOT NULL,
                recorded_at timestamptz NOT NULL DEFAULT now()
            )
            """,
            """
            CREATE TABLE eventack_nodes (
                id text PRIMARY KEY,
                heartbeat_at timestamptz NOT NULL
            )
            """,
            """
            CREATE TABLE eventack_forwarded (
                id bigserial PRIMARY KEY,
                session_id text NOT NULL,
                body text NOT NULL,
                created_at timestamptz NOT NULL DEFAULT now()
            )
            """,
            "CREATE INDEX eventack_forwarded_session ON eventack_forwarded (session_id, id)",
        ],
        [
            // At high rates a commit's records are tens of kilobytes: compressing them with pglz was most of
            // PostgreSQL's CPU per event. Stored uncompressed; records are written once and read only on recovery.
            "ALTER TABLE eventack_records ALTER COLUMN body SET STORAGE EXTERNAL",
            // Rows up to a page stay inline: at low rates a commit holds a few records, and moving those to the
            // TOAST table cost more than it saved.
            "ALTER TABLE eventack_records SET (toast_tuple_target = 8160)",
        ],
        [
            // lz4 instead: a commit's records are repetitive JSON (same keys, similar payloads) that lz4 shrinks
            // several times at a fraction of pglz's cost, so fewer TOAST chunks and less WAL per commit.
            "ALTER TABLE eventack_records ALTER COLUMN body SET STORAGE EXTENDED",
            "ALTER TABLE eventack_records ALTER COLUMN body SET COMPRESSION lz4",
        ],
        [
            // Issue 23, EA-DUR-7: a commit's rows carry its id, so that a retry of a commit whose answer was lost
            // finds what it wrote instead of writing it again. Unique per session: a retry's insert waits for a
            // first attempt still in flight, then conflicts with what it wrote.
            "ALTER TABLE eventack_records ADD COLUMN commit_id uuid",
            "CREATE UNIQUE INDEX eventack_records_commit ON eventack_records (commit_id, session_id)",
            // Transactions (ownership, verdicts, retirements) say first that they are being made, for the same reason.
            """
            CREATE TABLE eventack_commits (
                id uuid PRIMARY KEY,
                created_at timestamptz NOT NULL DEFAULT now()
            )
            """,
            // EA-DUR-6: one verdict per (session, run). Runs recorded twice before this migration keep their first.
            """
            DELETE FROM eventack_runs a USING eventack_runs b
            WHERE a.session_id = b.session_id AND a.run = b.run AND a.n > b.n
            """,
            "CREATE UNIQUE INDEX eventack_runs_session_run ON eventack_runs (session_id, run)",
            // A forwarded request is stored once however often its writer retries it.
            "ALTER TABLE eventack_forwarded ADD COLUMN request_key text",
            "CREATE UNIQUE INDEX eventack_forwarded_key ON eventack_forwarded (request_key)",
        ],
        [
            // Issue 25, EA-PUB-13: the publish API's runs and producer ids outlive the node that took them. A run id
            // names one run across the deployment (the primary key); its sessions are on one node at a time.
            """
            CREATE TABLE eventack_publish_runs (
                run text PRIMARY KEY,
                request text NOT NULL,
                sessions text[] NOT NULL,
                opened_at bigint NOT NULL,
                ended_at bigint,
                recorded_at timestamptz NOT NULL DEFAULT now()
            )
            """,
            "CREATE INDEX eventack_publish_runs_sessions ON eventack_publish_runs USING gin (sessions)",
            // An id is recorded in the commit that makes its event durable: taken exactly when the event is.
            """
            CREATE TABLE eventack_published (
                run text NOT NULL,
                id text NOT NULL,
                session_id text NOT NULL,
                seq bigint NOT NULL,
                kind text NOT NULL,
                confirm text NOT NULL,
                ends_run boolean,
                payload text NOT NULL,
                PRIMARY KEY (run, id, session_id)
            )
            """,
            // Requests a node hands to the node that holds a run's session, and their answers.
            """
            CREATE TABLE eventack_relay (
                id bigserial PRIMARY KEY,
                session_id text NOT NULL,
                request text NOT NULL,
                answer text,
                created_at timestamptz NOT NULL DEFAULT now()
            )
            """,
            "CREATE INDEX eventack_relay_waiting ON eventack_relay (session_id) WHERE answer IS NULL",
        ],
        [
            // A relayed request lives for milliseconds: its rows need no WAL, and their commits no disk flush (each
            // relayed request made three). Lost in a database crash, they are retried by their producers anyway.
            "ALTER TABLE eventack_relay SET UNLOGGED"
        ],
        [
            // EA-PUB-14: which process reads an agent run's stream; if it dies, the session's node ends the run.
            "ALTER TABLE eventack_publish_runs ADD COLUMN reader_node text, ADD COLUMN reader_boot text"
        ],
    ]

    /// Applies the migrations this database has not seen.
    static func migrate(_ client: PostgresClient, logger: Logger) async throws {
        try await client.withTransaction(logger: logger) { connection in
            // One node migrates at a time; the others wait here and then find nothing to do.
            try await connection.query("SELECT pg_advisory_xact_lock(7450001)", logger: logger)
            try await connection.query(
                "CREATE TABLE IF NOT EXISTS eventack_migrations (version int PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())",
                logger: logger)
            var applied = 0
            for try await version in try await connection.query(
                "SELECT coalesce(max(version), 0) FROM eventack_migrations", logger: logger
            ).decode(Int.self) {
                applied = version
            }
            for (index, statements) in migrations.enumerated() where index + 1 > applied {
                for statement in statements { try await connection.query(statement, logger: logger) }
                try await connection.query(
                    "INSERT INTO eventack_migrations (version) VALUES (\(index + 1))", logger: logger)
                logger.info("applied migration", metadata: ["version": "\(index + 1)"])
            }
        }
    }
}
