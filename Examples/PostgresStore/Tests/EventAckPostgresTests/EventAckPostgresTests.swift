import EventAckPostgres
import Logging
import Synchronization
import Testing

/// What of the PostgreSQL store can be checked without a database (cluster.sh and cluster-chaos.sh run the rest
/// against a real PostgreSQL): the deadline every query runs under, and the URLs the store accepts.
@Suite("EventAckPostgres without a database")
struct EventAckPostgresTests {
    struct Failure: Error, Equatable {}

    @Test("withDeadline hands back what the work returns, and passes its error on")
    func deadlineMet() async throws {
        #expect(try await withDeadline(.seconds(30)) { 42 } == 42)
        await #expect(throws: Failure.self) {
            try await withDeadline(.seconds(30)) { () async throws -> Int in throw Failure() }
        }
    }

    @Test("withDeadline gives up on work that never answers with StoreTimeout, and cancels it")
    func deadlinePassed() async throws {
        let cancelled = CancellationFlag()
        do {
            _ = try await withDeadline(.milliseconds(50)) { () async throws -> Int in
                await withTaskCancellationHandler {
                    try? await Task.sleep(for: .seconds(3_600))
                } onCancel: {
                    cancelled.set()
                }
                return 0
            }
            Issue.record("a query that never answered returned")
        } catch let error as StoreTimeout {
            #expect(error.limit == .milliseconds(50))
        }
        for _ in 0..<200 where !cancelled.isSet { try await Task.sleep(for: .milliseconds(10)) }
        #expect(cancelled.isSet, "the abandoned work was cancelled")
    }

    @Test("the store takes postgres:// URLs with a user and a host, and refuses others before connecting")
    func urls() throws {
        let logger = Logger(label: "test")
        for url in ["postgres://eventack@127.0.0.1:5432/eventack", "postgresql://u:p@db/eventack"] {
            _ = try PostgresSessionStore(url: url, node: "n", logger: logger)
        }
        for url in ["http://u@host/db", "postgres://host/db", "not a url", "postgres://u@/db"] {
            #expect(throws: PostgresSessionStore.StoreURLError.self, "\(url)") {
                try PostgresSessionStore(url: url, node: "n", logger: logger)
            }
        }
    }
}

/// Set once, from any task.
final class CancellationFlag: Sendable {
    private let flag = Mutex(false)
    func set() { flag.withLock { $0 = true } }
    var isSet: Bool { flag.withLock { $0 } }
}
