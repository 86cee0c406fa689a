@_spi(Shell) import EventAckProtocol
import EventAckReconciler

extension PublishService {
    /// `POST /v1/runs` (EA-PUB-3): opens a run in one session or in every session of a user.
    ///
    /// - Returns: the run and its sessions, and whether it is new (201) or a repeat of the request that opened it
    ///   (200, the same answer).
    /// - Throws: 404 `unknown_session` / `no_session`, 409 `run_exists` / `run_ended`.
    public func openRun(_ request: OpenRunRequest) throws(PublishError) -> (OpenedRun, created: Bool) {
        let sessions: [SessionID]
        switch request.audience {
        case .session(let session):
            guard service.holds(session) else {
                throw PublishError(status: 404, code: "unknown_session", message: "no session \(session) here")
            }
            sessions = [session]
        case .principal(let principal):
            sessions = service.sessions(of: principal).sorted { $0.rawValue < $1.rawValue }
            guard !sessions.isEmpty else {
                throw PublishError(
                    status: 404, code: "no_session",
                    message:
                        "\(DisplayText.escaping(principal)) has no session: nothing is queued for a user who is not there"
                )
            }
        }
        let now = clock.nowMs()
        let opened = try state.withLock { (state) throws(PublishError) -> (OpenedRun, created: Bool) in
            let run = request.run ?? state.runIDs.next()
            return try state.book.open(request, run: run, sessions: sessions, now: now)
        }
        if opened.created {
            // The producer's requestedAt is Unix ms, as the AgentServer's clock; the reconciler never takes a time
            // after its own now. Every confirmation of a published run is reported: its producer follows them.
            for session in opened.0.sessions {
                try? service.runRequested(
                    opened.0.run, in: session, at: request.requestedAt, reportingConfirmations: true)
            }
        }
        return opened
    }

    /// `POST /v1/runs/{run}/progress` (EA-PUB-8): the producer is alive; each session's client hears of it
    /// (EA-LIVE-1), and the run's idle timeout starts again.
    ///
    /// - Throws: 404 for an unknown run, 409 `run_ended`.
    public func progress(run: String, note: String?) throws(PublishError) {
        let sessions = try state.withLock { (state) throws(PublishError) -> [SessionID] in
            try state.book.heard(from: run, now: clock.nowMs())
            return state.book.sessions(of: run)
        }
        for session in sessions { try? service.progress(run: run, note: note, in: session) }
    }

    /// `GET /v1/runs/{run}` (EA-PUB-10): the run across its sessions, and each session's report of it.
    public func view(of run: String) -> (RunView, [RunReport])? {
        guard let view = state.withLock({ $0.book.view(of: run) }) else { return nil }
        return (view, service.runReports(run, in: view.sessions))
    }

    /// The feed of `run` after item `after`, and whether it is complete; `nil` for an unknown run (EA-PUB-7).
    public func feed(of run: String, after: Int) -> (items: [FeedItem], complete: Bool)? {
        state.withLock { $0.book.feed(of: run, after: after) }
    }

    /// Ends every run whose producer has been silent for its idle timeout (EA-PUB-9): each session's client gets the
    /// profile's failure terminal event (`agent_failed`, `payload.error` saying the agent stopped responding), and
    /// the run is marked ended by the server with `agent_silent`. Also forgets runs past their retention.
    func endSilentRuns() {
        let now = clock.nowMs()
        let kind = profile?.failureKinds.sorted().first ?? "agent_failed"
        state.withLock { state in
            for run in state.book.silentRuns(now: now) {
                let idle = state.book.runs[run].map { now - $0.lastHeardAt } ?? 0
                let payload = JSONValue.object([
                    ("error", .string("the agent stopped responding: nothing from it for \(idle) ms")),
                    ("reason", .string("agent_silent")),
                ])
                var delivered = true
                for session in state.book.sessions(of: run) {
                    do {
                        try service.emit(
                            run: run, kind: kind, payload: (try? Payload(json: payload.jsonText)) ?? .empty,
                            confirm: .receipt, endsRun: true, to: session)
                    } catch let error as ReconcilerError
                        where error.code == "window_exceeded" || error.code == "store_unavailable"
                    {
                        // No room yet: the next tick tries again (a retry where it went is `run_ended`).
                        delivered = false
                    } catch {
                        // The session is gone or the run already ended there: nothing to tell it.
                    }
                }
                if delivered { state.book.endedByServer(run, reason: "agent_silent", now: now) }
            }
            state.book.retire(now: now)
        }
    }
}
