import EventAckProtocol

/// A mistake of the host using the reconciler's API (`emit` to an unknown session, a full queue…). Thrown to the
/// caller, never sent on the wire.
public struct ReconcilerError: Error, Hashable, Sendable, CustomStringConvertible {
    /// A stable code: `unknown_session`, `window_exceeded`, `run_ended`, `store_unavailable` or
    /// `invalid_argument`.
    public var code: String
    /// What was wrong, for people.
    public var message: String

    /// Creates an error.
    public init(code: String, message: String) {
        self.code = code
        self.message = message
    }

    /// The session does not exist (never opened, or expired and removed).
    public static func unknownSession(_ session: SessionID) -> Self {
        Self(code: "unknown_session", message: "no session \(session)")
    }

    /// The window and the bounded queue of the session are full (EA-FLOW-2): the event was not accepted.
    public static func windowExceeded(_ session: SessionID, queued: Int) -> Self {
        Self(
            code: "window_exceeded",
            message: "session \(session) has \(queued) events queued behind a full window; emit refused")
    }

    /// The run already ended in this session (its terminal event was emitted, or it has its verdict): a run id
    /// names one run, so the event was not accepted (EA-RUN-1). Emit it under a new run id.
    public static func runEnded(_ run: String, in session: SessionID) -> Self {
        Self(
            code: "run_ended",
            message:
                "run \(DisplayText.escaping(run)) already ended in session \(session); a run id names one run, emit refused"
        )
    }

    /// The store cannot make events durable now (down, or too slow) and `pending` inputs already wait for it: the
    /// event was not accepted (EA-DUR-8). Nothing is lost; emit again once ``ReconcilerService/storeHealth`` says
    /// the store is available.
    public static func storeUnavailable(pending: Int) -> Self {
        Self(
            code: "store_unavailable",
            message: "the session store is unavailable and \(pending) writes wait for it; emit refused, try again later"
        )
    }

    /// An argument breaks a protocol limit (an empty or too long identifier, say).
    public static func invalidArgument(_ message: String) -> Self {
        Self(code: "invalid_argument", message: message)
    }

    public var description: String { "\(code): \(message)" }
}
