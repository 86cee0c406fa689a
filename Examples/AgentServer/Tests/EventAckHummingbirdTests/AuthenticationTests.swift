import HTTPTypes
import Testing

@testable import EventAckHummingbird

/// The token table and the one place upgrade refusals are decided.
@Suite("Authentication and upgrade refusals")
struct AuthenticationTests {
    static func headers(_ token: String?) -> HTTPFields {
        var fields = HTTPFields()
        if let token { fields[.authorization] = "Bearer \(token)" }
        return fields
    }

    @Test("a token table tells users, publishers, the operator, unknown and missing tokens apart")
    func roles() throws {
        var table = try TokenTable("alice-token=alice, bob-token=bob")
        try table.addPublishers("agents-token=python-backend")
        table.operatorToken = "op-token"
        #expect(table.credential(of: Self.headers("alice-token")) == .user("alice"))
        #expect(table.credential(of: Self.headers("agents-token")) == .publisher("python-backend"))
        #expect(table.credential(of: Self.headers("op-token")) == .operator)
        #expect(table.credential(of: Self.headers("nope")) == .unknown)
        #expect(table.credential(of: Self.headers(nil)) == .missing)
        #expect(throws: TokenTableError.self) { try TokenTable("no-equals-sign") }
        #expect(throws: TokenTableError.self) { try TokenTable("") }
    }

    @Test("only a user offering eventack.v1 upgrades; every other case has its status and code")
    func refusals() {
        func refusal(_ credential: EventAckCredential, _ offered: [String] = ["eventack.v1"], stopping: Bool = false)
            -> String?
        {
            EventAckWebSocket.refusal(credential, subprotocols: offered, isShuttingDown: stopping)
                .map { "\($0.status.code) \($0.code)" }
        }
        #expect(refusal(.user("alice")) == nil)
        #expect(refusal(.user("alice"), ["chat, eventack.v1"]) == nil, "a list offering it")
        #expect(refusal(.user("alice"), ["chat"]) == "400 subprotocol_required")
        #expect(refusal(.user("alice"), stopping: true) == "503 shutting_down")
        #expect(refusal(.missing) == "401 invalid_request")
        #expect(refusal(.unknown) == "401 invalid_token")
        #expect(refusal(.operator) == "403 forbidden")
        #expect(refusal(.publisher("backend")) == "403 forbidden")
    }
}
