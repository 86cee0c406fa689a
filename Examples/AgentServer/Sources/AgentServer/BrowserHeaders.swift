import HTTPTypes
import Hummingbird

/// Headers that make the served pages harder to misuse (with `--web-root`): a Content-Security-Policy allowing only
/// this origin's scripts and connections (an injected script could not load or send anywhere else), no framing (the
/// 👍/👎 buttons cannot be clickjacked), no MIME sniffing, and no `Referer` (a ticket in a URL must not travel).
/// Inline style attributes stay allowed: the dashboard's bars are sized with them.
struct BrowserHeaders<Context: RequestContext>: RouterMiddleware {
    static var policy: String {
        "default-src 'self'; script-src 'self'; connect-src 'self'; img-src 'self' data:; "
            + "style-src 'self' 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
    }

    func handle(
        _ request: Request, context: Context, next: (Request, Context) async throws -> Response
    ) async throws -> Response {
        var response = try await next(request, context)
        response.headers[.contentSecurityPolicy] = Self.policy
        response.headers[.xContentTypeOptions] = "nosniff"
        response.headers[HTTPField.Name("Referrer-Policy")!] = "no-referrer"
        return response
    }
}
