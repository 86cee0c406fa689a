import Foundation

/// Which web pages may open EventAck connections (Spec/BROWSER.md § 2, EA-WEB-2). A browser sends the page's `Origin` with every
/// WebSocket upgrade and cannot be made to lie about it; a server that ignores it lets any site the user visits open
/// a session with the user's cookies or a leaked ticket (cross-site WebSocket hijacking).
///
/// A request without `Origin` (a native client: the Swift SDK, curl, Python) is not a browser's and is allowed. A
/// browser's is allowed when its origin is the server's own (scheme `http` or `https` and the request's `Host`) or is
/// listed; `*` in the list allows every origin (for development only). The opaque origin `null` (sandboxed frames,
/// `file:` pages) is allowed only when listed.
public struct OriginPolicy: Sendable, Hashable {
    /// Origins allowed besides the server's own, as browsers write them: `https://chat.example.com`, `http://localhost:3000`.
    public var allowed: Set<String>

    /// A policy allowing the server's own origin and `allowed`.
    public init(allowed: some Sequence<String> = []) {
        self.allowed = Set(allowed.map { Self.normalized($0) })
    }

    /// Whether a request with these `Origin` and `Host` header values may open a connection.
    public func allows(origin: String?, host: String?) -> Bool {
        guard let origin else { return true }
        let normalized = Self.normalized(origin)
        if allowed.contains("*") || allowed.contains(normalized) { return true }
        guard let host = host?.lowercased(), !host.isEmpty else { return false }
        return normalized == "http://\(host)" || normalized == "https://\(host)"
    }

    /// Origins compare without case and without a trailing slash.
    static func normalized(_ origin: String) -> String {
        var text = origin.trimmingCharacters(in: .whitespaces).lowercased()
        while text.hasSuffix("/") { text.removeLast() }
        return text
    }
}
