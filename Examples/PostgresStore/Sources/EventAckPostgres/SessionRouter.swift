import EventAckProtocol
import EventAckReconciler
import Foundation
import Logging
import Synchronization

/// Where an agent's events go: to the local `ReconcilerService` when this node holds the session, otherwise
/// through the store to the node that owns it (§ 15). Without a store, everything is local.
public struct SessionRouter: Sendable {
    /// This node's service.
    public let service: ReconcilerService
    /// The store the nodes share, if any.
    public let store: PostgresSessionStore?
    let logger: Logger
    /// Kinds that end a run (the run profile's): a run's forwarding ends with them.
    let terminalKinds: Set<String>
    /// Runs whose events this node has sent through the store: they keep going that way until the run ends, even
    /// once the session is here. The owner takes forwarded requests in order; an event emitted locally would
    /// overtake one still waiting in the table (found by cluster.sh: a run's `tool_completed` forwarded to a node
    /// that then died, its `agent_completed` emitted locally by the node the client resumed on — out of order).
    /// The other way, a run's first forward waits for this node's writes in flight (`ReconcilerService/writesSettled()`).
    let forwardedRuns = ForwardedRuns()

    /// A router for `service`, through `store` (none: everything is local). `terminalKinds` end a run's forwarding
    /// (the run profile's).
    public init(service: ReconcilerService, store: PostgresSessionStore?, logger: Logger, terminalKinds: Set<String>) {
        self.service = service
        self.store = store
        self.logger = logger
        self.terminalKinds = terminalKinds
    }

    /// Whether `session` belongs to `principal`, here or on any node (isolation, EA-ISO-1).
    public func belongs(_ session: SessionID, to principal: String) async -> Bool {
        if service.sessions(of: principal).contains(session) { return true }
        guard let store else { return false }
        do {
            return try await store.principal(of: session) == principal
        } catch {
            logger.warning("store unavailable", metadata: ["error": "\(DisplayText.escaping("\(error)"))"])
            return false
        }
    }

    /// Emits here, or forwards to the owner. Throws `window_exceeded` only for a local session: a forwarded event
    /// waits in the store until its owner has room. A forward is stored once per `requestKey`: retry a failed one
    /// with the same key (EA-DUR-7).
    public func emit(
        run: String, kind: String, payload: Payload, confirm: ConfirmationLevel, to session: SessionID,
        requestKey: String = UUID().uuidString
    ) async throws {
        let key = ForwardedRuns.Key(session: session, run: run)
        let forwarding = forwardedRuns.contains(key)
        if let store, forwarding || !service.holds(session) {
            if !forwarding {
                // The run's earlier events may have been emitted here, their records still being written: once
                // written (or refused by the fence and forwarded by the store), this one may follow them.
                await service.writesSettled()
                forwardedRuns.insert(key)
            }
            try await store.forward(
                .event(run: run, kind: kind, payload: payload.json, confirm: confirm, endsRun: nil), to: session,
                key: requestKey)
            if terminalKinds.contains(kind) { forwardedRuns.remove(key) }
        } else {
            try service.emit(run: run, kind: kind, payload: payload, confirm: confirm, to: session)
        }
    }

    /// Says the run is alive, here or through the owner.
    public func progress(run: String, note: String, in session: SessionID) async throws {
        if let store, !service.holds(session) {
            try await store.forward(.progress(run: run, note: note), to: session)
        } else {
            try service.progress(run: run, note: note, in: session)
        }
    }

    /// Marks when the run was requested, if the session is here (the `.request` SLOs are measured where it is).
    public func runRequested(_ run: String, in session: SessionID) throws {
        guard store == nil || service.holds(session) else { return }
        try service.runRequested(run, in: session)
    }
}

/// The runs a ``SessionRouter`` forwards through the store, bounded: an agent that dies mid-run never ends its run,
/// so past the bound the older half is forgotten (at worst, one of those runs' next event goes the local way).
final class ForwardedRuns: Sendable {
    struct Key: Hashable, Sendable {
        var session: SessionID
        var run: String
    }

    static let limit = 100_000
    /// Each run with the number of its first forward, for forgetting the oldest.
    private let state = Mutex<(runs: [Key: UInt64], next: UInt64)>(([:], 0))

    func contains(_ key: Key) -> Bool { state.withLock { $0.runs[key] != nil } }

    func insert(_ key: Key) {
        state.withLock { state in
            guard state.runs[key] == nil else { return }
            state.runs[key] = state.next
            state.next += 1
            guard state.runs.count > Self.limit else { return }
            let cut = state.next - UInt64(Self.limit / 2)
            state.runs = state.runs.filter { $0.value >= cut }
        }
    }

    func remove(_ key: Key) {
        state.withLock { _ = $0.runs.removeValue(forKey: key) }
    }
}
