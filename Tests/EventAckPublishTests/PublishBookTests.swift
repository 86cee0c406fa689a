import EventAckProtocol
import EventAckPublish
import EventAckReconciler
import Foundation
import Testing

/// The publish API's rules, sans I/O, with time passed in.
@Suite("Publish book")
struct PublishBookTests {
    static let s1 = SessionID("s_1")
    static let s2 = SessionID("s_2")

    static func book() -> PublishBook { PublishBook(defaultProfile: .agent) }

    static func events(_ json: String, run: String = "r") throws -> [PublishedEvent] {
        try PublishedEvent.list(body: json, run: run, maxFrameBytes: 1 << 20)
    }

    static func report(_ run: String, _ session: SessionID, verdict: String, failures: String = "[]") throws
        -> RunReport
    {
        let stats = try JSONEncoder().encode(ConfirmationStats())
        let json = """
            {"run":"\(run)","session":"\(session.rawValue)","principal":"alice","verdict":"\(verdict)",
            "outcome":"succeeded","failures":\(failures),"omittedFailures":0,"warnings":[],
            "stats":\(String(decoding: stats, as: UTF8.self))}
            """
        return try JSONDecoder().decode(RunReport.self, from: Data(json.utf8))
    }

    /// Opens `r` in the given sessions and takes `events` with consecutive seqs in each.
    static func opened(sessions: [SessionID], events json: String) throws -> PublishBook {
        var book = Self.book()
        _ = try book.open(OpenRunRequest(audience: .principal("alice")), run: "r", sessions: sessions, now: 0)
        for (index, event) in try Self.events(json).enumerated() {
            let seqs = Dictionary(uniqueKeysWithValues: sessions.map { ($0, Seq(index + 1)) })
            book.accepted(event, seqs: seqs, in: "r", now: 10)
        }
        return book
    }

    @Test(
        "a repeat of the request that opened a run answers the same; other parameters or an ended run: 409 (EA-PUB-3)")
    func openIsIdempotent() throws {
        var book = Self.book()
        let request = OpenRunRequest(audience: .session(Self.s1), run: "r")
        let first = try book.open(request, run: "r", sessions: [Self.s1], now: 0)
        #expect(first.created)
        let again = try book.open(request, run: "r", sessions: [Self.s1], now: 5)
        #expect(!again.created && again.0 == first.0)
        let other = OpenRunRequest(audience: .session(Self.s2), run: "r")
        #expect(throws: PublishError.self) { try book.open(other, run: "r", sessions: [Self.s2], now: 5) }
        book.accepted(
            try Self.events(#"{"events":[{"id":"a","kind":"agent_completed"}]}"#)[0], seqs: [Self.s1: 1], in: "r",
            now: 6)
        do {
            _ = try book.open(request, run: "r", sessions: [Self.s1], now: 7)
            Issue.record("an ended run opened again")
        } catch {
            #expect(error.code == "run_ended" && error.status == 409)
        }
    }

    @Test(
        "an id taken before is answered with its seqs, never emitted again; another body under it is a conflict (EA-PUB-4)"
    )
    func idempotencyKeys() throws {
        var book = try Self.opened(sessions: [Self.s1], events: #"{"events":[{"id":"a","kind":"agent_started"}]}"#)
        let retry = try book.plan(
            try Self.events(#"{"events":[{"kind":"agent_started","id":"a","payload":{}}]}"#), for: "r")
        guard case .duplicate(let seqs) = retry[0] else {
            Issue.record("a retry was planned for emission")
            return
        }
        #expect(seqs == [Self.s1: 1])
        let conflicting = try Self.events(#"{"events":[{"id":"b","kind":"x"},{"id":"a","kind":"other"}]}"#)
        do {
            _ = try book.plan(conflicting, for: "r")
            Issue.record("a conflicting id was accepted")
        } catch {
            #expect(error.code == "id_conflict" && error.status == 409 && error.path == "$.events[1]")
        }
        let mixed = try book.plan(
            try Self.events(#"{"events":[{"id":"a","kind":"agent_started"},{"id":"b","kind":"x"}]}"#), for: "r")
        guard case .emit(let event) = mixed[1] else {
            Issue.record("a new id was not planned for emission")
            return
        }
        #expect(event.id == "b")
        book.accepted(event, seqs: [Self.s1: 2], in: "r", now: 20)
        #expect(book.view(of: "r")?.published == 2)
    }

    @Test("a run the sessions ended for silence takes no progress; its verdict says agent_silent (EA-PUB-9)")
    func endedForSilence() throws {
        var book = try Self.opened(sessions: [Self.s1], events: #"{"events":[{"id":"a","kind":"agent_started"}]}"#)
        try book.checkOpen("r")
        book.endedElsewhere("r", now: 100)
        #expect(throws: PublishError.self) { try book.checkOpen("r") }
        var report = try Self.report("r", Self.s1, verdict: "confirmed")
        report.endedBy = "agent_silent"
        book.observe(.runFinished(report))
        #expect(book.view(of: "r")?.verdict.endedBy == "agent_silent")
    }

    @Test(
        "in several sessions, an event is confirmed when one session confirmed it; the verdict waits for all (EA-PUB-6)"
    )
    func fanOutVerdict() throws {
        var book = try Self.opened(
            sessions: [Self.s1, Self.s2],
            events: #"{"events":[{"id":"a","kind":"agent_started"},{"id":"b","kind":"agent_completed"}]}"#)
        func reference(_ session: SessionID, _ seq: Seq) -> EventReference {
            EventReference(session: session, principal: "alice", run: "r", seq: seq, kind: "k")
        }
        book.observe(.confirmed(reference(Self.s1, 1), level: .receipt, latencyMs: 3))
        book.observe(.failed(reference(Self.s1, 2), level: .receipt, reason: .receiptTimeout))
        book.observe(.confirmed(reference(Self.s2, 2), level: .receipt, latencyMs: 4))
        book.observe(.runFinished(try Self.report("r", Self.s1, verdict: "failed")))
        #expect(book.view(of: "r")?.verdict.verdict == .pending, "one session has not decided")
        book.observe(.runFinished(try Self.report("r", Self.s2, verdict: "failed")))
        let verdict = try #require(book.view(of: "r")?.verdict)
        #expect(verdict.verdict == .confirmed, "each event was confirmed in one session")
        let feed = try #require(book.feed(of: "r", after: 0))
        #expect(feed.complete && feed.items.map(\.event) == [.confirmed, .failed, .confirmed, .verdict])
        #expect(feed.items.map(\.index) == [1, 2, 3, 4])
        #expect(book.feed(of: "r", after: 4)?.items.isEmpty == true, "a reconnect after the verdict gets nothing more")
    }

    @Test("an event confirmed in no session, or a profile violation, fails the run with reasons (EA-PUB-6)")
    func failedVerdict() throws {
        var book = try Self.opened(
            sessions: [Self.s1],
            events: #"{"events":[{"id":"a","kind":"agent_started"},{"id":"b","kind":"agent_completed"}]}"#)
        book.observe(
            .failed(
                EventReference(session: Self.s1, principal: "alice", run: "r", seq: 2, kind: "agent_completed"),
                level: .receipt, reason: .sessionExpired))
        book.observe(
            .runFinished(
                try Self.report(
                    "r", Self.s1, verdict: "failed",
                    failures: #"[{"code":"empty_content","detail":"no result","seq":2}]"#)))
        let verdict = try #require(book.view(of: "r")?.verdict)
        #expect(verdict.verdict == .failed)
        #expect(verdict.failures.map(\.code) == ["unconfirmed", "session_expired", "empty_content"])
        #expect(verdict.failures.map(\.id) == ["a", "b", nil])
    }

    @Test("an ended, decided run is remembered at least ten minutes, then forgotten (EA-PUB-4, EA-PUB-7)")
    func retention() throws {
        var book = try Self.opened(sessions: [Self.s1], events: #"{"events":[{"id":"a","kind":"agent_completed"}]}"#)
        book.observe(.runFinished(try Self.report("r", Self.s1, verdict: "confirmed")))
        book.retire(now: 10 + 10 * 60_000 - 1)
        #expect(book.knows("r"))
        book.retire(now: 10 + book.retentionMs)
        #expect(!book.knows("r"))
        #expect(PublishBook(defaultProfile: nil, retentionMs: 1).retentionMs == 10 * 60_000)
    }
}
