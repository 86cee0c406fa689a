import EventAckProtocol
import EventAckPublish
import EventAckReconciler
import Hummingbird
import NIOCore

/// The publish API's answers as JSON (the shapes `Spec/publish-api.yaml` pins).
enum PublishAnswer {
    static func error(_ error: PublishError) -> Response { reply(PublishReply(error)) }

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

    /// A ``PublishReply`` as the HTTP answer: JSON (none for a 204), with `Retry-After` when it says one.
    static func reply(_ reply: PublishReply) -> Response {
        var headers: HTTPFields = [:]
        if let seconds = reply.retryAfterSeconds { headers[.retryAfter] = String(seconds) }
        let status = HTTPResponse.Status(code: reply.status)
        guard !reply.body.isEmpty else { return Response(status: status, headers: headers) }
        headers[.contentType] = "application/json"
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(string: reply.body)))
    }
}
