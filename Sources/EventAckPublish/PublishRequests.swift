@_spi(Shell) import EventAckProtocol
import EventAckReconciler

/// Where a run is opened: one session, or every session of a user (EA-PUB-3).
public enum RunAudience: Sendable, Hashable {
    /// One session, by id.
    case session(SessionID)
    /// Every session the user holds when the run is opened (tabs, devices).
    case principal(String)
}

/// `POST /v1/runs`, validated (EA-PUB-3).
public struct OpenRunRequest: Sendable, Hashable {
    /// Who gets the run.
    public var audience: RunAudience
    /// The producer's run id, or `nil` for one the server makes.
    public var run: String?
    /// How long the producer may stay silent before the server ends the run (EA-PUB-9).
    public var idleTimeoutMs: UInt64
    /// When the user asked for the run (Unix ms), the origin of the profile's request-time SLOs.
    public var requestedAt: UInt64?
    /// The run profile the run is validated against, by name (`agent`, `ag-ui`); the server's default when absent.
    public var profile: String?
    /// The level each kind of the run is confirmed at when an event does not say, over the profile's
    /// (`{"TEXT_MESSAGE_END": "value"}`: value confirmation for the run's messages).
    public var confirmLevels: [String: ConfirmationLevel] = [:]

    /// The idle timeout when the request names none.
    public static let defaultIdleTimeoutMs: UInt64 = 60_000
    /// The idle timeouts a request may name.
    public static let idleTimeoutRange: ClosedRange<UInt64> = 1_000...3_600_000

    /// Creates a request.
    public init(
        audience: RunAudience, run: String? = nil, idleTimeoutMs: UInt64 = Self.defaultIdleTimeoutMs,
        requestedAt: UInt64? = nil, profile: String? = nil
    ) {
        self.audience = audience
        self.run = run
        self.idleTimeoutMs = idleTimeoutMs
        self.requestedAt = requestedAt
        self.profile = profile
    }

    /// Reads a request body.
    ///
    /// - Throws: ``PublishError`` 400 with the path of the first member that breaks a rule.
    public init(body: String) throws(PublishError) {
        let object = try RequestBody.object(body)
        let session = try RequestBody.string(object["session"], at: "$.session")
        let principal = try RequestBody.string(object["principal"], at: "$.principal")
        switch (session, principal) {
        // Any non-empty string: one that names no session or user here (too long to be one, say) is a 404, not a 400.
        case (let session?, nil):
            guard !session.isEmpty else { throw .invalid("session must not be empty", at: "$.session") }
            audience = .session(SessionID(session))
        case (nil, let principal?):
            guard !principal.isEmpty else { throw .invalid("principal must not be empty", at: "$.principal") }
            audience = .principal(principal)
        case (nil, nil): throw .invalid("name a session or a principal", at: "$")
        case (_?, _?): throw .invalid("name a session or a principal, not both", at: "$")
        }
        run = try RequestBody.string(object["run"], at: "$.run")
        if let run { try RunName.check(run, at: "$.run") }
        idleTimeoutMs =
            try RequestBody.integer(object["idleTimeoutMs"], in: Self.idleTimeoutRange, at: "$.idleTimeoutMs")
            ?? Self.defaultIdleTimeoutMs
        requestedAt = try RequestBody.integer(
            object["requestedAt"], in: 0...ProtocolLimits.maxInteger, at: "$.requestedAt")
        profile = try RequestBody.string(object["profile"], at: "$.profile")
        if let profile { try RunName.check(profile, at: "$.profile", what: "profile") }
        confirmLevels = try Self.levels(object["confirm"])
    }

    /// `confirm`: an object from kinds to levels.
    private static func levels(_ value: JSONValue?) throws(PublishError) -> [String: ConfirmationLevel] {
        guard let value else { return [:] }
        guard case .object(let members) = value, members.count <= 256 else {
            throw .invalid("confirm must be an object of at most 256 kinds and their levels", at: "$.confirm")
        }
        var levels: [String: ConfirmationLevel] = [:]
        for (kind, level) in members {
            guard RunName.isValid(kind, maxLength: ProtocolLimits.maxIdentifierBytes) else {
                throw .invalid("a kind is 1–256 characters of A–Z a–z 0–9 . _ : -", at: "$.confirm")
            }
            guard case .string(let name) = level, let parsed = ConfirmationLevel(rawValue: name) else {
                throw .invalid("a level is receipt, display or value", at: "$.confirm.\(kind)")
            }
            levels[kind] = parsed
        }
        return levels
    }
}

/// One event of `POST /v1/runs/{run}/events`, validated (EA-PUB-4).
public struct PublishedEvent: Sendable {
    /// The producer's idempotency key, unique within the run.
    public var id: String
    /// What happened (`agent_started`…): 1–256 characters of `[A-Za-z0-9._:-]`.
    public var kind: String
    /// The level the event asks for (`receipt` by default).
    public var confirm: ConfirmationLevel
    /// The event's payload, a JSON object (`{}` by default).
    public var payload: Payload
    /// Whether the event ends the run; `nil` leaves it to the run profile.
    public var endsRun: Bool?
    /// Whether the request said `confirm` (else the run's level for the kind applies).
    public var confirmGiven: Bool
    /// The event with its defaults written out, to tell a retry from a different event under the same id (compared
    /// as JSON values).
    public var body: JSONValue

    /// The events of a request body, 1…``maxEvents`` of them, each checked against the frame limit
    /// `maxFrameBytes` as it would be sent.
    ///
    /// - Throws: ``PublishError`` 400 with the path of the first member that breaks a rule.
    public static func list(body: String, run: String, maxFrameBytes: Int) throws(PublishError) -> [PublishedEvent] {
        let object = try RequestBody.object(body)
        guard case .array(let items)? = object["events"] else {
            throw .invalid("events must be an array of 1…\(maxEvents) events", at: "$.events")
        }
        guard (1...maxEvents).contains(items.count) else {
            throw .invalid("events must hold 1…\(maxEvents) events, not \(items.count)", at: "$.events")
        }
        var events: [PublishedEvent] = []
        var ids: Set<String> = []
        for (index, item) in items.enumerated() {
            let event = try PublishedEvent(item, at: "$.events[\(index)]", run: run, maxFrameBytes: maxFrameBytes)
            guard ids.insert(event.id).inserted else {
                throw PublishError(
                    status: 409, code: "id_conflict", message: "id \(event.id) appears twice in the request",
                    path: "$.events[\(index)].id")
            }
            events.append(event)
        }
        return events
    }

    /// The most events in one request.
    public static let maxEvents = 1_000

    init(_ value: JSONValue, at path: String, run: String, maxFrameBytes: Int) throws(PublishError) {
        guard case .object = value else { throw .invalid("an event must be an object", at: path) }
        guard let id = try RequestBody.string(value["id"], at: path + ".id") else {
            throw .invalid("id is required", at: path + ".id")
        }
        try RunName.check(id, at: path + ".id", what: "id")
        guard let kind = try RequestBody.string(value["kind"], at: path + ".kind"),
            RunName.isValid(kind, maxLength: ProtocolLimits.maxIdentifierBytes)
        else {
            throw .invalid(
                "kind must be 1–256 characters of A–Z a–z 0–9 . _ : -", at: path + ".kind", code: "invalid_message")
        }
        let given = try RequestBody.string(value["confirm"], at: path + ".confirm")
        confirmGiven = given != nil
        guard let confirm = ConfirmationLevel(rawValue: given ?? "receipt") else {
            throw .invalid("confirm must be receipt, display or value", at: path + ".confirm", code: "invalid_message")
        }
        switch value["payload"] {
        case nil: payload = .empty
        case .object(let members)?:
            payload = try Self.payload(JSONValue.object(members), at: path + ".payload")
        default: throw .invalid("payload must be a JSON object", at: path + ".payload", code: "invalid_message")
        }
        switch value["endsRun"] {
        case nil, .null?: endsRun = nil
        case .bool(let ends)?: endsRun = ends
        default: throw .invalid("endsRun must be a boolean", at: path + ".endsRun", code: "invalid_message")
        }
        // The frame the client gets: the payload, the kind and run, and the envelope's members (under 200 bytes).
        let frameBytes = payload.json.utf8.count + kind.utf8.count + run.utf8.count + 200
        guard frameBytes <= maxFrameBytes else {
            throw .invalid(
                "the event would make a \(frameBytes)-byte frame; the limit is \(maxFrameBytes)", at: path,
                code: "frame_too_large")
        }
        (self.id, self.kind, self.confirm) = (id, kind, confirm)
        body = Self.body(
            id: id, kind: kind, confirm: confirm, payload: value["payload"] ?? .object([]), endsRun: endsRun)
    }

    /// The event with the run's level for its kind (`levels`: the profile's and the run's) when it did not say, and
    /// its ``body`` saying so: a retry is compared with what was emitted.
    public func resolvingConfirm(_ levels: [String: ConfirmationLevel]) -> PublishedEvent {
        guard !confirmGiven, let level = levels[kind], level != confirm else { return self }
        var event = self
        event.confirm = level
        event.body = Self.body(
            id: id, kind: kind, confirm: level, payload: body["payload"] ?? .object([]), endsRun: endsRun)
        return event
    }

    private static func payload(_ value: JSONValue, at path: String) throws(PublishError) -> Payload {
        // Parsed and validated with the body: not scanned again.
        guard let payload = Payload(parsedObject: value) else {
            throw .invalid("payload must be a JSON object", at: path, code: "invalid_message")
        }
        return payload
    }
}

/// The rule for run ids and event ids: 1–128 characters of `[A-Za-z0-9._:-]`, so that they sit in a URL path and a
/// header unescaped (EA-PUB-2); kinds follow it too, up to 256 (a protocol identifier, in the characters every
/// profile's kinds use).
enum RunName {
    static let maxLength = 128

    static func isValid(_ name: String, maxLength: Int = maxLength) -> Bool {
        guard (1...maxLength).contains(name.utf8.count) else { return false }
        return name.utf8.allSatisfy { byte in
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: ":"),
                UInt8(ascii: "-"):
                true
            default: false
            }
        }
    }

    static func check(_ name: String, at path: String, what: String = "run") throws(PublishError) {
        guard isValid(name) else {
            throw .invalid("\(what) must be 1–128 characters of A–Z a–z 0–9 . _ : -", at: path)
        }
    }
}

/// Reading members of a JSON request body, with the JSON path of whatever is wrong.
enum RequestBody {
    /// `value` as an integer, if it is one within JSON's exact range (2^53).
    static func exactInteger(_ value: Double) -> UInt64? {
        guard value >= 0, value <= Double(ProtocolLimits.maxInteger), value.rounded() == value else { return nil }
        return UInt64(value)
    }

    static func object(_ body: String) throws(PublishError) -> JSONValue {
        do {
            return try JSONValue(parsingObject: body)
        } catch {
            throw .invalid("the body must be a JSON object: \(error.message)", at: "$", code: error.code.rawValue)
        }
    }

    static func string(_ value: JSONValue?, at path: String) throws(PublishError) -> String? {
        // An absent member takes its default; `null` is not a string (the OpenAPI document says which members may be
        // null: `endsRun` and a progress `note`).
        switch value {
        case nil: return nil
        case .string(let text)?: return text
        default: throw .invalid("must be a string", at: path)
        }
    }

    static func integer(_ value: JSONValue?, in range: ClosedRange<UInt64>, at path: String) throws(PublishError)
        -> UInt64?
    {
        switch value {
        case nil: return nil
        case .number(let text)?:
            // An integer as JSON Schema counts one: `2692`, `2692.0` and `2.692e3` alike.
            guard let number = UInt64(text) ?? Double(text).flatMap(exactInteger), range.contains(number) else {
                throw .invalid("must be an integer in \(range.lowerBound)…\(range.upperBound)", at: path)
            }
            return number
        default: throw .invalid("must be an integer", at: path)
        }
    }
}
