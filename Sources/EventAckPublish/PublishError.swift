import EventAckProtocol

/// Why the publish API refused a request (§ 16 of the spec, EA-PUB-*): an HTTP status, a stable code, a message
/// for people and, for a body that broke a rule, the JSON path of what broke it. The shell answers with
/// `{"error": code, "message": …, "path": …}` and this status.
public struct PublishError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The HTTP status: 400, 404, 409, 413, 429 or 503.
    public var status: Int
    /// A stable code (the table of EA-PUB-12).
    public var code: String
    /// What was wrong, for people.
    public var message: String
    /// Where in the request body, as a JSON path (`$.events[3].payload`), for a 400.
    public var path: String?

    /// Creates an error.
    public init(status: Int, code: String, message: String, path: String? = nil) {
        self.status = status
        self.code = code
        self.message = message
        self.path = path
    }

    /// A body that breaks a rule of the API: 400 `invalid_request` unless a protocol code says more.
    static func invalid(_ message: String, at path: String, code: String = "invalid_request") -> Self {
        Self(status: 400, code: code, message: message, path: path)
    }

    /// No run of that id here (never opened, or forgotten after its retention).
    static func unknownRun(_ run: String) -> Self {
        Self(status: 404, code: "unknown_run", message: "no run \(DisplayText.escaping(run))")
    }

    /// The run ended (its terminal event, or the server ended it): nothing more may be published to it.
    static func runEnded(_ run: String) -> Self {
        Self(status: 409, code: "run_ended", message: "run \(DisplayText.escaping(run)) has ended")
    }

    /// 503 `store_unavailable`: the store could not be read or written.
    public static func storeUnavailable(_ error: any Error) -> Self {
        Self(status: 503, code: "store_unavailable", message: "the store cannot be reached: \(error)")
    }

    /// 400 `invalid_request` at `waitMs`: the query parameter is not an integer in 0…``PublishService/maxWaitMs``.
    public static let invalidWaitMs = PublishError(
        status: 400, code: "invalid_request", message: "waitMs must be an integer in 0…30000", path: "waitMs")

    /// The refusal as the API writes it: `error`, `message` and, for a rule of the body, `path`.
    public var members: [(key: String, value: JSONValue)] {
        var members: [(key: String, value: JSONValue)] = [("error", .string(code)), ("message", .string(message))]
        if let path { members.append(("path", .string(path))) }
        return members
    }

    public var description: String {
        path.map { "\(status) \(code) at \($0): \(message)" } ?? "\(status) \(code): \(message)"
    }
}
