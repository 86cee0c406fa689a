import EventAckProtocol
import EventAckReconciler

/// What an agent on one node asks of a session served by another: an event to emit, or a run's liveness. Stored
/// until the session's owner performs it; an event's request is retired with the event's record, atomically.
public enum Forwarded: Sendable, Hashable, Codable {
    /// `ReconcilerService/emit(run:kind:payload:confirm:endsRun:to:origin:)`.
    case event(run: String, kind: String, payload: String, confirm: ConfirmationLevel, endsRun: Bool?)
    /// `ReconcilerService/progress(run:note:in:)`.
    case progress(run: String, note: String?)
}

/// A stored ``Forwarded`` request, as the owner reads it.
public struct ForwardedRequest: Sendable, Hashable {
    /// Its id: the `origin` of the event that answers it.
    public var id: Int64
    /// The session it is for.
    public var session: SessionID
    /// What it asks.
    public var request: Forwarded
}

/// The confirmation report across every node: each run's verdict as recorded in the store, exactly once.
public struct ClusterReport: Sendable, Codable {
    /// When the report was built (Unix ms).
    public var generatedAt: UInt64
    /// Nodes and the age of their last heartbeat, in ms.
    public var nodes: [String: Int64]
    /// Sessions the store holds (attached or waiting for a resume, on any node).
    public var sessions: Int
    /// Runs by verdict.
    public var runVerdicts: [String: Int]
    /// Every run's figures, summed.
    public var overall: ConfirmationStats
    /// Runs not confirmed (at most 500).
    public var unconfirmedRuns: [RunReport]
}
