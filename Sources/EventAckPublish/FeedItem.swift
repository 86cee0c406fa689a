import EventAckProtocol
import EventAckReconciler

/// One item of a run's confirmations feed, as `GET /v1/runs/{run}/confirmations` sends it: a Server-Sent Event with
/// a name, an id (its place in the feed, from 1) and a JSON object (EA-PUB-7).
public enum FeedItem: Sendable, Hashable {
    /// An event reached `level` in `session`.
    case confirmed(index: Int, id: String, seq: Seq, session: SessionID, level: ConfirmationLevel, latencyMs: UInt64)
    /// An event failed at `level` in `session`; final for that session.
    case failed(index: Int, id: String, seq: Seq, session: SessionID, level: ConfirmationLevel, reason: String)
    /// The run is decided; nothing follows.
    case verdict(index: Int, PublishedVerdict)

    /// The SSE event names.
    public enum Name: String, Sendable {
        /// An event reached its level in a session.
        case confirmed
        /// An event failed in a session.
        case failed
        /// The run is decided; the last item.
        case verdict
    }

    /// The SSE `event:` name.
    public var event: Name {
        switch self {
        case .confirmed: .confirmed
        case .failed: .failed
        case .verdict: .verdict
        }
    }

    /// The SSE `id:`: the item's place in the feed. A reconnect with `Last-Event-ID: n` continues after it.
    public var index: Int {
        switch self {
        case .confirmed(let index, _, _, _, _, _), .failed(let index, _, _, _, _, _), .verdict(let index, _): index
        }
    }

    /// The SSE `data:`: one line of JSON.
    public var data: String {
        switch self {
        case .confirmed(_, let id, let seq, let session, let level, let latencyMs):
            JSONValue.object([
                ("id", .string(id)), ("seq", .number(String(seq))), ("session", .string(session.rawValue)),
                ("level", .string(level.rawValue)), ("latencyMs", .number(String(latencyMs))),
            ]).jsonText
        case .failed(_, let id, let seq, let session, let level, let reason):
            JSONValue.object([
                ("id", .string(id)), ("seq", .number(String(seq))), ("session", .string(session.rawValue)),
                ("level", .string(level.rawValue)), ("reason", .string(reason)),
            ]).jsonText
        case .verdict(_, let verdict):
            verdict.json.jsonText
        }
    }

    /// The item as Server-Sent Event text, blank line included, its `id:` the feed's `generation` and the item's
    /// ``index`` (``PublishService/feedPosition(lastEventID:)`` reads it back).
    public func serverSentEvent(generation: String) -> String {
        "event: \(event.rawValue)\nid: \(eventID(generation: generation))\ndata: \(data)\n\n"
    }

    /// The SSE `id:` of this item in the feed of `generation`.
    public func eventID(generation: String) -> String { "\(generation)-\(index)" }
}

extension PublishedVerdict {
    /// `{"verdict", "outcome", "endedBy", "failures": [{"id", "session", "code", "detail"}]}`, absent members left out.
    public var json: JSONValue {
        var members: [(key: String, value: JSONValue)] = [("verdict", .string(verdict.rawValue))]
        if let outcome { members.append(("outcome", .string(outcome.rawValue))) }
        if let endedBy { members.append(("endedBy", .string(endedBy))) }
        let list = failures.map { failure -> JSONValue in
            var members: [(key: String, value: JSONValue)] = []
            if let id = failure.id { members.append(("id", .string(id))) }
            if let session = failure.session { members.append(("session", .string(session.rawValue))) }
            members.append(("code", .string(failure.code)))
            if let detail = failure.detail { members.append(("detail", .string(detail))) }
            return .object(members)
        }
        members.append(("failures", .array(list)))
        return .object(members)
    }
}
