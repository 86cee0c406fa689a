import HTTPTypes
import Testing

@testable import EventAckHummingbird

/// What lets a browser in (Spec/BROWSER.md): single-use tickets (EA-WEB-1) and the Origin check (EA-WEB-2), decided
/// in one place for the gate and the upgrade.
@Suite("Browser access: tickets and origins")
struct BrowserAccessTests {
    static func fields(origin: String? = nil, token: String? = nil) -> HTTPFields {
        var fields = HTTPFields()
        fields[.secWebSocketProtocol] = "eventack.v1"
        if let origin { fields[.origin] = origin }
        if let token { fields[.authorization] = "Bearer \(token)" }
        return fields
    }

    @Test("EA-WEB-1: a ticket stands for its credential once, within its lifetime, and is unguessable")
    func ticketsAreSingleUse() {
        let book = TicketBook(lifetimeMs: 30_000)
        let ticket = book.issue(for: .user("alice"), now: 1_000)
        #expect(ticket.hasPrefix("tk_") && ticket.count == 3 + 32, "128 random bits, hex")
        #expect(book.issue(for: .user("alice"), now: 1_000) != ticket)
        #expect(book.peek(ticket, now: 2_000) == .user("alice"), "peeking does not spend it")
        #expect(book.redeem(ticket, now: 2_000) == .user("alice"))
        #expect(book.redeem(ticket, now: 2_001) == nil, "spent")
        #expect(book.peek(ticket, now: 2_001) == nil)
        let late = book.issue(for: .operator, now: 0)
        #expect(book.redeem(late, now: 30_000) == nil, "expired after its lifetime")
        #expect(book.redeem("tk_00000000000000000000000000000000", now: 0) == nil, "never issued")
    }

    @Test("EA-WEB-1: the book is bounded: beyond its capacity the oldest waiting ticket goes")
    func ticketsAreBounded() {
        let book = TicketBook(lifetimeMs: 60_000, capacity: 3)
        let tickets = (0..<4).map { book.issue(for: .user("u\($0)"), now: UInt64($0)) }
        #expect(book.peek(tickets[0], now: 10) == nil)
        #expect(tickets.dropFirst().allSatisfy { book.peek($0, now: 10) != nil })
    }

    @Test("EA-WEB-1: a credential asking in a loop drops only its own oldest tickets, not another user's")
    func ticketsArePerCredential() {
        let book = TicketBook(lifetimeMs: 60_000, capacity: 1000, perCredential: 2)
        let bobs = book.issue(for: .user("bob"), now: 0)
        let alices = (1...5).map { book.issue(for: .user("alice"), now: UInt64($0)) }
        #expect(book.peek(bobs, now: 10) == .user("bob"))
        #expect(alices.map { book.peek($0, now: 10) != nil } == [false, false, false, true, true])
        #expect(book.redeem(alices[4], now: 10) == .user("alice"))
        let next = book.issue(for: .user("alice"), now: 11)
        #expect(book.peek(alices[3], now: 12) != nil && book.peek(next, now: 12) != nil, "a spent one counts no more")
    }

    @Test("EA-WEB-1: the ticket is read from the request target's query")
    func ticketInTarget() {
        #expect(TicketBook.ticket(inTarget: "/eventack?ticket=tk_ab") == "tk_ab")
        #expect(TicketBook.ticket(inTarget: "/eventack?x=1&ticket=tk_ab&y=2") == "tk_ab")
        #expect(TicketBook.ticket(inTarget: "/eventack?ticket=") == nil)
        #expect(TicketBook.ticket(inTarget: "/eventack") == nil)
    }

    @Test("EA-WEB-2: the server's own origin and listed ones pass; others, and null, do not; no Origin is no browser")
    func origins() {
        let policy = OriginPolicy(allowed: ["https://Chat.Example.com/"])
        #expect(policy.allows(origin: nil, host: "127.0.0.1:8080"))
        #expect(policy.allows(origin: "http://127.0.0.1:8080", host: "127.0.0.1:8080"))
        #expect(policy.allows(origin: "https://chat.example.com", host: "127.0.0.1:8080"))
        #expect(!policy.allows(origin: "https://evil.example", host: "127.0.0.1:8080"))
        #expect(
            !policy.allows(origin: "http://127.0.0.1:9999", host: "127.0.0.1:8080"), "another port is another origin")
        #expect(!policy.allows(origin: "null", host: "127.0.0.1:8080"))
        #expect(!policy.allows(origin: "https://evil.example", host: nil))
        #expect(OriginPolicy(allowed: ["*"]).allows(origin: "https://any.example", host: nil))
    }

    @Test(
        "EA-WEB-1, EA-WEB-2: the upgrade checks the origin first, then a token or a ticket the gate peeks and the upgrade spends"
    )
    func upgradeDecisions() throws {
        let tickets = TicketBook()
        var tokens = try TokenTable("alice-token=alice")
        tokens.operatorToken = "op-token"
        let access = UpgradeAccess(authenticator: tokens, tickets: tickets, origins: OriginPolicy())
        func decide(_ fields: HTTPFields, _ target: String = "/eventack", spend: Bool = true) -> String {
            switch access.decide(
                fields: fields, host: "127.0.0.1:8080", target: target, spendingTicket: spend, isShuttingDown: false)
            {
            case .accepted(let principal): "accepted \(principal)"
            case .refused(let refusal): "\(refusal.status.code) \(refusal.code)"
            }
        }
        let own = "http://127.0.0.1:8080"
        let ticket = tickets.issue(for: .user("alice"))
        #expect(
            decide(Self.fields(origin: "https://evil.example"), "/eventack?ticket=\(ticket)")
                == "403 origin_not_allowed")
        #expect(decide(Self.fields(origin: own), "/eventack?ticket=\(ticket)", spend: false) == "accepted alice")
        #expect(decide(Self.fields(origin: own), "/eventack?ticket=\(ticket)") == "accepted alice")
        #expect(decide(Self.fields(origin: own), "/eventack?ticket=\(ticket)") == "401 invalid_ticket", "spent")
        #expect(decide(Self.fields(origin: own), "/eventack?ticket=tk_nope") == "401 invalid_ticket")
        let operatorTicket = tickets.issue(for: .operator)
        #expect(decide(Self.fields(origin: own), "/eventack?ticket=\(operatorTicket)") == "403 forbidden")
        #expect(decide(Self.fields(token: "alice-token")) == "accepted alice", "a native client: no Origin, a token")
        #expect(decide(Self.fields()) == "401 invalid_request")
    }
}
