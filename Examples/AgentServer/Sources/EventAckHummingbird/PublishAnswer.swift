import EventAckProtocol
import EventAckPublish
import EventAckReconciler
import Hummingbird
import NIOCore

/// The publish API's answers as JSON (the shapes `Spec/publish-api.yaml` pins).
enum PublishAnswer {
    static func json(_ value: JSONValue, status: HTTPResponse.Status, headers: HTTPFields = [:]) -> Response {
        var fields = headers
        fields[.contentType] = "application/json"
        return Response(status: status, headers: fields, body: .init(byteBuffer: ByteBuffer(string: value.jsonText)))
    }

    static func error(_ error: PublishError, extra: [(key: String, value: JSONValue)] = []) -> Response {
        var members: [(key: String, value: JSONValue)] = [
            ("error", .string(error.code)), ("message", .string(error.message)),
        ]
        if let path = error.path { members.append(("path", .string(path))) }
        return json(.object(members + extra), status: .init(code: error.status))
    }

    static func methodNotAllowed(_ allowed: [HTTPRequest.Method]) -> Response {
        var response = error(
            PublishError(
                status: 405, code: "method_not_allowed",
                message: "use \(allowed.map(\.rawValue).joined(separator: " or "))"))
        response.headers[.allow] = allowed.map(\.rawValue).joined(separator: ", ")
        return response
    }

    static func unauthorized(_ code: String, _ message: String) -> Response {
        var response = error(PublishError(status: 401, code: code, message: message))
        response.headers[.wwwAuthenticate] = "Bearer realm=\"eventack\", error=\"\(code)\""
        return response
    }

    static func opened(_ opened: OpenedRun) -> JSONValue {
        .object([("run", .string(opened.run)), ("sessions", .array(opened.sessions.map { .string($0.rawValue) }))])
    }

    static func results(_ results: [PublishedEventResult]) -> JSONValue {
        .array(
            results.map { result in
                let seqs = result.seqs.sorted { $0.key.rawValue < $1.key.rawValue }
                    .map { (key: $0.key.rawValue, value: JSONValue.number(String($0.value))) }
                return .object([
                    ("id", .string(result.id)), ("seq", .object(seqs)), ("duplicate", .bool(result.duplicate)),
                ])
            })
    }

    /// 200 with every event's result, or the refusal with the accepted prefix in `accepted` (and `Retry-After`
    /// for a 429).
    static func published(_ outcome: PublishOutcome) -> Response {
        guard let refusal = outcome.refusal else {
            return json(.object([("events", results(outcome.results))]), status: .ok)
        }
        var response = error(refusal, extra: [("accepted", results(outcome.results))])
        if let retryAfterMs = outcome.retryAfterMs {
            response.headers[.retryAfter] = String(max(1, (retryAfterMs + 999) / 1000))
        }
        return response
    }

    static func run(_ view: RunView, reports: [RunReport]) -> Response {
        let parsed = reports.map { (try? JSONValue(parsingObject: $0.json())) ?? .null }
        return json(
            .object([
                ("run", .string(view.run)), ("sessions", .array(view.sessions.map { .string($0.rawValue) })),
                ("state", .string(view.ended ? "ended" : "open")), ("published", .number(String(view.published))),
                ("confirmed", .number(String(view.confirmed))), ("verdict", view.verdict.json),
                ("reports", .array(parsed)),
            ]), status: .ok)
    }
}
