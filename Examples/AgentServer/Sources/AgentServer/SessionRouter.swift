import EventAckPostgres
import EventAckProtocol
import EventAckReconciler
import Logging

/// Where an agent's events go: to the local ``ReconcilerService`` when this node holds the session, otherwise
/// through the store to the node that owns it (§ 15). Without a store, everything is local.
struct SessionRouter: Sendable {
    let service: ReconcilerService
    let store: PostgresSessionStore?
    let logger: Logger

    /// Whether `session` belongs to `principal`, here or on any node (isolation, EA-ISO-1).
    func belongs(_ session: SessionID, to principal: String) async -> Bool {
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
    /// waits in the store until its owner has room.
    func emit(
        run: String, kind: String, payload: Payload, confirm: ConfirmationLevel, to session: SessionID
    ) async throws {
        if let store, !service.holds(session) {
            try await store.forward(
                .event(run: run, kind: kind, payload: payload.json, confirm: confirm, endsRun: nil), to: session)
        } else {
            try service.emit(run: run, kind: kind, payload: payload, confirm: confirm, to: session)
        }
    }

    /// Says the run is alive, here or through the owner.
    func progress(run: String, note: String, in session: SessionID) async throws {
        if let store, !service.holds(session) {
            try await store.forward(.progress(run: run, note: note), to: session)
        } else {
            try service.progress(run: run, note: note, in: session)
        }
    }

    /// Marks when the run was requested, if the session is here (the `.request` SLOs are measured where it is).
    func runRequested(_ run: String, in session: SessionID) throws {
        guard store == nil || service.holds(session) else { return }
        try service.runRequested(run, in: session)
    }
}
