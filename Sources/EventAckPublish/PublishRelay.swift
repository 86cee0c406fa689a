import EventAckProtocol
import EventAckReconciler

/// A publish API request as one node hands it to another (EA-PUB-11): a run is served by the node that holds its
/// sessions, and a request reaching any other node is relayed there and answered with what that node answered.
public enum PublishOperation: Sendable, Hashable, Codable {
    /// `POST /v1/runs` with its body.
    case open(body: String)
    /// `POST /v1/runs/{run}/events` with its body and `waitMs`.
    case events(run: String, body: String, waitMs: UInt64)
    /// `POST /v1/runs/{run}/progress` with its body.
    case progress(run: String, body: String)
    /// `GET /v1/runs/{run}`.
    case view(run: String)
    /// The next part of `GET /v1/runs/{run}/confirmations` after the SSE id `after` (from the start if `nil`): what
    /// the feed holds past it, or, if nothing yet, what comes within `waitMs`.
    case feed(run: String, after: String?, waitMs: UInt64)

    /// The run the request is about, for all but `open`.
    public var run: String? {
        switch self {
        case .open: nil
        case .events(let run, _, _), .progress(let run, _), .view(let run), .feed(let run, _, _): run
        }
    }
}

/// A node's answer to a ``PublishOperation``: the HTTP status, the JSON body (or, for `feed`, Server-Sent Event
/// text), and what else the HTTP answer carries.
public struct PublishReply: Sendable, Hashable, Codable {
    /// The HTTP status.
    public var status: Int
    /// The body: JSON, or SSE text for a `feed`.
    public var body: String
    /// `Retry-After` in seconds, for a 429 or 503.
    public var retryAfterSeconds: UInt64?
    /// For a `feed`: the SSE id of the last item in ``body`` (where the next part starts), if it holds any.
    public var lastEventID: String?
    /// For a `feed`: whether the feed is complete (its verdict sent).
    public var complete: Bool?

    /// An answer.
    public init(
        status: Int, body: String, retryAfterSeconds: UInt64? = nil, lastEventID: String? = nil,
        complete: Bool? = nil
    ) {
        self.status = status
        self.body = body
        self.retryAfterSeconds = retryAfterSeconds
        self.lastEventID = lastEventID
        self.complete = complete
    }

    /// A refusal as the API writes it: `{"error": CODE, "message": TEXT}` (and `"path"`).
    public init(_ error: PublishError, retryAfterSeconds: UInt64? = nil) {
        self.init(
            status: error.status, body: JSONValue.object(error.members).jsonText, retryAfterSeconds: retryAfterSeconds)
    }
}

/// How the nodes of a cluster reach each other for the publish API (EA-PUB-11): where sessions are, and a way to
/// hand a request to the node that holds one. A single node has none.
public protocol PublishRelay: Sendable {
    /// `principal`'s sessions on every node, the most recently active first.
    func sessions(of principal: String) async throws -> [SessionID]
    /// Hands `operation` to the node that holds `session` and returns its answer; `nil` when no node holds the
    /// session (it ended): then the node that asked answers itself.
    ///
    /// - Throws: a ``PublishError`` (503 `owner_unavailable`) when no node answered in time; the request may or may
    ///   not have been performed, and a retry with the same ids is safe (EA-PUB-4).
    func send(_ operation: PublishOperation, via session: SessionID) async throws(PublishError) -> PublishReply?
}
