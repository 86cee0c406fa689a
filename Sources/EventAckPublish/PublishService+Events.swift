@_spi(Shell) import EventAckProtocol
import EventAckReconciler

/// What `POST /v1/runs/{run}/events` answers for one event: its id, its seq in each session, and whether it was a
/// retry of an event taken before.
public struct PublishedEventResult: Sendable, Hashable {
    /// The producer's id of the event.
    public var id: String
    /// Its seq in each session of the run.
    public var seqs: [SessionID: Seq]
    /// Whether it was taken before (a retry): nothing was emitted now.
    public var duplicate: Bool
}

/// How a publish request ended (EA-PUB-4, EA-PUB-5).
public struct PublishOutcome: Sendable {
    /// The events taken (or recognised as retries), in request order: all of them, or the accepted prefix.
    public var results: [PublishedEventResult]
    /// Why the rest was refused, if it was: 429 `window_full` (with ``retryAfterMs``), 503 `store_unavailable`,
    /// 409 `run_ended`.
    public var refusal: PublishError?
    /// For a 429: when to try again.
    public var retryAfterMs: UInt64?
}

extension PublishService {
    /// The longest a request may wait for room (EA-PUB-5).
    public static let maxWaitMs: UInt64 = 30_000
    /// How long a request waits for room when it does not say.
    public static let defaultWaitMs: UInt64 = 5_000

    /// `POST /v1/runs/{run}/events`: emits the events in order, each to every session of the run, all or nothing per
    /// event; answers retries of ids already taken with what they got. Requests for one run are served one at a
    /// time. When a session's window and queue are full, waits up to `waitMs` for room, then stops with 429 and
    /// the accepted prefix. With a store, returns once what was taken is committed.
    ///
    /// - Throws: what refuses the whole request before anything is emitted: 400 (a body that breaks a rule, with
    ///   its JSON path), 404, 409 `id_conflict` / `run_ended`.
    public func publish(body: String, to run: String, waitMs: UInt64) async throws(PublishError) -> PublishOutcome {
        let events = try PublishedEvent.list(body: body, run: run, maxFrameBytes: maxFrameBytes)
        try await load(run)
        await acquire(run)
        defer { release(run) }
        let steps = try state.withLock { (state) throws(PublishError) in try state.book.plan(events, for: run) }
        var outcome = PublishOutcome(results: [])
        let deadline = clock.nowMs() + min(waitMs, Self.maxWaitMs)
        var index = 0
        while index < steps.count, outcome.refusal == nil {
            guard case .emit = steps[index] else {
                if case .duplicate(let seqs) = steps[index] {
                    outcome.results.append(.init(id: events[index].id, seqs: seqs, duplicate: true))
                }
                index += 1
                continue
            }
            // The new events up to the next retry go in one batch.
            var end = index
            while end < steps.count, case .emit = steps[end] { end += 1 }
            let (taken, refusal) = await emitWaiting(events[index..<end], to: run, until: deadline)
            outcome.results += taken
            index += taken.count
            if let refusal {
                outcome.refusal = refusal
                if refusal.status == 429 { outcome.retryAfterMs = 1_000 }
            }
        }
        if service.store != nil { await service.writesSettled() }
        return outcome
    }

    /// Emits `events` in order to every session of `run`, as many as there is room for, waiting for room until
    /// `deadline`: each pass takes the service's lock once for all of them.
    ///
    /// - Returns: the events taken, and why the rest was not.
    private func emitWaiting(
        _ events: ArraySlice<PublishedEvent>, to run: String, until deadline: UInt64
    ) async -> (taken: [PublishedEventResult], refusal: PublishError?) {
        // With a store, the records carry the id: the store records it in the same commit (EA-PUB-13).
        let durable = service.store != nil
        var taken: [PublishedEventResult] = []
        var next = events.startIndex
        while true {
            let emissions = events[next...].map { event in
                ReconcilerService.Emission(
                    run: run, kind: event.kind, payload: event.payload, confirm: event.confirm,
                    endsRun: event.endsRun, origin: durable ? PublishedEvent.origin(of: event.id) : nil)
            }
            let refusal = state.withLock { state -> ReconcilerError? in
                let (seqs, refusal) = service.emit(emissions, toEach: state.book.sessions(of: run))
                let now = clock.nowMs()
                for (event, seqs) in zip(events[next...], seqs) {
                    state.book.accepted(event, seqs: seqs, in: run, now: now)
                    taken.append(.init(id: event.id, seqs: seqs, duplicate: false))
                }
                next += seqs.count
                return refusal
            }
            guard let refusal else { return (taken, nil) }
            switch refusal.code {
            case "window_exceeded":
                guard clock.nowMs() < deadline else {
                    return (taken, PublishError(status: 429, code: "window_full", message: refusal.message))
                }
                try? await Task.sleep(for: .milliseconds(2))
            case "store_unavailable":
                return (taken, PublishError(status: 503, code: "store_unavailable", message: refusal.message))
            case "run_ended":
                state.withLock { $0.book.endedElsewhere(run, now: clock.nowMs()) }
                return (taken, .runEnded(run))
            default:
                return (taken, PublishError(status: 409, code: refusal.code, message: refusal.message))
            }
        }
    }

    /// Waits until no other request for `run` is under way, then marks one as under way.
    private func acquire(_ run: String) async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let free = state.withLock { state -> Bool in
                guard state.busy[run] != nil else {
                    state.busy[run] = []
                    return true
                }
                state.busy[run]!.append(continuation)
                return false
            }
            if free { continuation.resume() }
        }
    }

    /// Hands `run` to the next request waiting for it, if any.
    private func release(_ run: String) {
        let next = state.withLock { state -> CheckedContinuation<Void, Never>? in
            guard var waiting = state.busy[run], !waiting.isEmpty else {
                state.busy[run] = nil
                return nil
            }
            let next = waiting.removeFirst()
            state.busy[run] = waiting
            return next
        }
        next?.resume()
    }
}
