import EventAckProtocol
import EventAckPublish
import EventAckReconciler
import Foundation
import Logging
import PostgresNIO
import ServiceLifecycle
import Synchronization

/// The publish API across the nodes of a cluster (EA-PUB-11), through the store: a node hands a request for a run
/// whose sessions another node holds to `eventack_relay` and waits for the answer; the node that owns the session
/// (whichever it is by then: after a crash, the one that adopted it) performs it and writes the answer. Both sides
/// are woken by `NOTIFY` (``StoreNotifications``), and poll as a fallback.
///
/// Run it as a service: ``run()`` performs the requests relayed to this node with `perform`.
public final class PostgresPublishRelay: PublishRelay, Service {
    let store: PostgresSessionStore
    let perform: @Sendable (PublishOperation) async -> PublishReply
    let logger: Logger
    /// Requests being performed here, not yet answered.
    private let inFlight = Mutex<Set<Int64>>([])
    /// How long a relayed request may go unanswered beyond its own wait (`waitMs`) before the sender gives up with
    /// 503 `owner_unavailable`: a node that holds the session may have died, and its sessions are adopted by another
    /// node only once it has been silent for ``ClusterNode``'s `staleAfterSeconds`.
    public static let answerGrace: Duration = .seconds(10)

    /// A relay over `store`; requests relayed to this node are performed with `perform` (the publish endpoint's
    /// `performHere`).
    public init(
        store: PostgresSessionStore, logger: Logger,
        perform: @escaping @Sendable (PublishOperation) async -> PublishReply
    ) {
        self.store = store
        self.perform = perform
        self.logger = logger
    }

    public func sessions(of principal: String) async throws -> [SessionID] {
        await store.untilRunning()
        var sessions: [SessionID] = []
        for try await id in try await store.client.query(
            "SELECT id FROM eventack_sessions WHERE principal = \(principal) ORDER BY touched_at DESC, id",
            logger: logger
        ).decode(String.self) {
            sessions.append(SessionID(id))
        }
        return sessions
    }

    public func send(_ operation: PublishOperation, via session: SessionID) async throws(PublishError)
        -> PublishReply?
    {
        let wait: Duration
        switch operation {
        // The owner refuses a waitMs over the limit; this side waits no longer than the limit allows.
        case .events(_, _, let waitMs), .feed(_, _, let waitMs):
            wait = .milliseconds(min(waitMs, PublishService.maxWaitMs)) + Self.answerGrace
        default: wait = Self.answerGrace
        }
        do {
            guard let id = try await insert(operation, for: session) else { return nil }
            defer { store.notifications.forgetAnswer(id) }
            let deadline = ContinuousClock.now + wait
            while ContinuousClock.now < deadline {
                // The notification is a hint: look every second anyway.
                await store.notifications.waitForAnswer(id, timeout: min(.seconds(1), deadline - .now))
                if let answer = try await collect(id, giveUp: false) { return answer }
            }
            if let answer = try await collect(id, giveUp: true) { return answer }
        } catch {
            throw .storeUnavailable(error)
        }
        throw PublishError(
            status: 503, code: "owner_unavailable",
            message: "the node that holds session \(session) did not answer; retry with the same ids")
    }

    /// Stores a request for the owner of `session` and wakes the nodes; `nil` if no node holds the session.
    private func insert(_ operation: PublishOperation, for session: SessionID) async throws -> Int64? {
        await store.untilRunning()
        let request = String(decoding: try JSONEncoder().encode(operation), as: UTF8.self)
        for try await id in try await store.client.query(
            """
            WITH r AS (
                INSERT INTO eventack_relay (session_id, request)
                SELECT id, \(request) FROM eventack_sessions WHERE id = \(session.rawValue) RETURNING id
            ), n AS (SELECT pg_notify(\(StoreNotifications.channel), 'relay'))
            SELECT r.id FROM r, n
            """, logger: logger
        ).decode(Int64.self) {
            return id
        }
        return nil
    }

    /// The answer to request `id` if it has one, taking the request out of the table; with `giveUp`, takes it out
    /// unanswered too (a request performed after that is answered to no one; its retry is safe).
    private func collect(_ id: Int64, giveUp: Bool) async throws -> PublishReply? {
        for try await answer in try await store.client.query(
            "DELETE FROM eventack_relay WHERE id = \(id) AND (answer IS NOT NULL OR \(giveUp)) RETURNING answer",
            logger: logger
        ).decode(String?.self) {
            guard let answer else { return nil }
            return try JSONDecoder().decode(PublishReply.self, from: Data(answer.utf8))
        }
        return nil
    }

    /// Performs the requests relayed to the sessions this node owns, each as it comes, until the task is cancelled.
    public func run() async throws {
        await withGracefulShutdownHandler {
            await withDiscardingTaskGroup { group in
                while !Task.isCancelled && !Task.isShuttingDownGracefully {
                    await store.notifications.relayed.wait(timeout: .milliseconds(500))
                    do {
                        for (id, operation) in try await withDeadline(.seconds(5), takeRelayed) {
                            group.addTask { await self.answer(id, with: await self.perform(operation)) }
                        }
                    } catch {
                        logger.warning(
                            "relayed requests could not be read",
                            metadata: ["error": "\(DisplayText.escaping("\(error)"))"])
                    }
                }
            }
        } onGracefulShutdown: {
            self.store.notifications.relayed.signal()
        }
    }

    /// The requests waiting for sessions this node owns, oldest first, except those being performed here.
    @Sendable private func takeRelayed() async throws -> [(Int64, PublishOperation)] {
        await store.untilRunning()
        var taken: [(Int64, PublishOperation)] = []
        let decoder = JSONDecoder()
        for try await (id, request) in try await store.client.query(
            """
            SELECT r.id, r.request FROM eventack_relay r
            JOIN eventack_sessions s ON s.id = r.session_id AND s.owner = \(store.node)
            WHERE r.answer IS NULL ORDER BY r.id LIMIT 256
            """, logger: logger
        ).decode((Int64, String).self) {
            guard inFlight.withLock({ $0.insert(id).inserted }) else { continue }
            guard let operation = try? decoder.decode(PublishOperation.self, from: Data(request.utf8)) else {
                await answer(
                    id, with: PublishReply(PublishError(status: 400, code: "invalid_request", message: "unreadable")))
                continue
            }
            taken.append((id, operation))
        }
        return taken
    }

    /// Writes the answer to request `id` and wakes its sender.
    private func answer(_ id: Int64, with reply: PublishReply) async {
        defer { _ = inFlight.withLock { $0.remove(id) } }
        do {
            let text = String(decoding: try JSONEncoder().encode(reply), as: UTF8.self)
            try await withDeadline(.seconds(5)) { [store, logger] in
                for try await _ in try await store.client.query(
                    """
                    WITH u AS (UPDATE eventack_relay SET answer = \(text) WHERE id = \(id) RETURNING id)
                    SELECT pg_notify(\(StoreNotifications.channel), 'answer:' || u.id) FROM u
                    """, logger: logger)
                {}
            }
        } catch {
            // The sender times out and the producer retries with the same ids.
            logger.warning("a relayed request's answer was lost", metadata: ["error": "\(error)"])
        }
    }
}
