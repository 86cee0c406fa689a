@_spi(Shell) import EventAckProtocol
import EventAckReconciler

extension PublishService {
    /// `POST /v1/runs` (EA-PUB-3): opens a run in one session or in every session of a user.
    ///
    /// - Returns: the run and its sessions, and whether it is new (201) or a repeat of the request that opened it
    ///   (200, the same answer).
    /// With a ``ledger``, the run is recorded there first: its id then names it on every node (EA-PUB-13), and a
    /// repeat of the request reaching a node that took the sessions over is answered as a repeat.
    ///
    /// - Throws: 404 `unknown_session` / `no_session`, 409 `run_exists` / `run_ended`, 503 `store_unavailable`.
    public func openRun(_ request: OpenRunRequest) async throws(PublishError) -> (OpenedRun, created: Bool) {
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
        if let profile = request.profile, service.configuration.runProfiles[profile] == nil {
            let known = service.configuration.runProfiles.keys.sorted().joined(separator: ", ")
            throw .invalid("no run profile named \(profile); this server has \(known)", at: "$.profile")
        }
        let now = clock.nowMs()
        let run = request.run ?? state.withLock { $0.runIDs.next() }
        if let ledger, !state.withLock({ $0.book.knows(run) }) {
            let candidate = LedgerRun(
                run: run, request: PublishBook.named(request, run), sessions: sessions, openedAt: now)
            let recorded: LedgerRun
            do {
                recorded = try await ledger.register(candidate)
            } catch {
                throw .storeUnavailable(error)
            }
            // Recorded before: by a node that served these sessions then, or another run under this id. The book
            // takes it in and answers the request as a repeat, or refuses it.
            if recorded != candidate { state.withLock { $0.book.adopt(recorded, now: now) } }
        }
        let opened = try state.withLock { (state) throws(PublishError) -> (OpenedRun, created: Bool) in
            try state.book.open(request, run: run, sessions: sessions, now: now)
        }
        if opened.created {
            // The producer's requestedAt is Unix ms, as the AgentServer's clock; the reconciler never takes a time
            // after its own now. Every confirmation of a published run is reported: its producer follows them.
            for session in opened.0.sessions {
                try? service.runRequested(
                    opened.0.run, in: session, at: request.requestedAt, reportingConfirmations: true,
                    idleTimeoutMs: request.idleTimeoutMs, profile: request.profile)
            }
        }
        return opened
    }

    /// `POST /v1/runs/{run}/progress` (EA-PUB-8): the producer is alive; each session's client hears of it
    /// (EA-LIVE-1), and the run's idle timeout starts again in each session (EA-RUN-2).
    ///
    /// - Throws: 404 for an unknown run, 409 `run_ended`.
    public func progress(run: String, note: String?) async throws(PublishError) {
        try await load(run)
        let sessions = try state.withLock { (state) throws(PublishError) -> [SessionID] in
            try state.book.checkOpen(run)
            return state.book.sessions(of: run)
        }
        var ended = false
        for session in sessions {
            do {
                try service.progress(run: run, note: note, in: session)
            } catch  where error.code == "run_ended" {
                ended = true  // the session ended it: its producer had been silent too long (EA-RUN-2)
            } catch {
                // The session is gone: nothing to tell it.
            }
        }
        guard ended else { return }
        state.withLock { $0.book.endedElsewhere(run, now: clock.nowMs()) }
        throw .runEnded(run)
    }

    /// `GET /v1/runs/{run}` (EA-PUB-10): the run across its sessions, and each session's report of it.
    public func view(of run: String) async throws(PublishError) -> (RunView, [RunReport])? {
        try await load(run)
        guard let view = state.withLock({ $0.book.view(of: run) }) else { return nil }
        return (view, service.runReports(run, in: view.sessions))
    }

    /// The sessions of `run` if this node has served it (its book knows it), else `nil`.
    public func sessionsServedHere(of run: String) -> [SessionID]? {
        state.withLock { $0.book.knows(run) ? $0.book.sessions(of: run) : nil }
    }

    /// The feed of `run` after item `after`, and whether it is complete; `nil` for an unknown run (EA-PUB-7).
    public func feed(of run: String, after: Int) -> (items: [FeedItem], complete: Bool)? {
        state.withLock { $0.book.feed(of: run, after: after) }
    }

    /// Where a confirmations stream continues after the SSE id `lastEventID` (EA-PUB-7): after that item if this
    /// feed sent it; at the beginning otherwise — another incarnation of the run's feed sent it (another node served
    /// the run then, or this one before a restart), or no feed did — as an `EventSource` reconnecting to a server
    /// that lost its place would want.
    public func feedPosition(lastEventID: String) -> Int {
        let parts = lastEventID.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count == 2, parts[0] == feedGeneration, let index = Int(parts[1]), index >= 0 else { return 0 }
        return index
    }

    /// Ends agent runs whose stream died with the node (or process) that read it (EA-PUB-14): each gets the server's
    /// `RUN_ERROR` with `agent_stream_failed`, under the id the gateway itself would have used, so that the two never
    /// both land. Called by the node that holds their sessions.
    public func endOrphanedAgentRuns(_ runs: [String]) async {
        for run in runs {
            var stream = AGUIStream(run: run)
            guard case .fail(_, let event) = stream.agentFailed("the server that read the agent's stream stopped")
            else { continue }
            do {
                _ = try await publish(body: AGUIStream.requestBody(publishing: event), to: run, waitMs: 0)
            } catch  where error.code == "run_ended" {
                try? await ledger?.ended(run, at: clock.nowMs())
            } catch {
                // Tried again at the next sweep.
            }
        }
    }

    /// Forgets runs past their retention.
    func retireOldRuns() {
        let now = clock.nowMs()
        state.withLock { $0.book.retire(now: now) }
    }
}
