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
    /// A request that finds the run free and room for its events is planned and emitted under one acquisition of
    /// the lock (it cannot interleave with another); only one that must wait holds the run while it waits, and
    /// requests arriving meanwhile queue behind it.
    ///
    /// - Throws: what refuses the whole request before anything is emitted: 400 (a body that breaks a rule, with
    ///   its JSON path), 404, 409 `id_conflict` / `run_ended`.
    public func publish(body: String, to run: String, waitMs: UInt64) async throws(PublishError) -> PublishOutcome {
        var events = try PublishedEvent.list(body: body, run: run, maxFrameBytes: maxFrameBytes)
        try await load(run)
        // Events that do not say their level take the run's for their kind (its profile's, or its own).
        let levels = state.withLock { $0.book.confirmLevels(ofRun: run) }
        if !levels.isEmpty { events = events.map { $0.resolvingConfirm(levels) } }
        let deadline = clock.nowMs() + min(waitMs, Self.maxWaitMs)
        var request = PublishRequest(run: run, events: events, deadline: deadline)
        let started = try state.withLock { (state) throws(PublishError) -> Bool in
            guard state.busy[run] == nil else { return false }
            try start(&request, &state)
            return true
        }
        if !started {
            await acquire(run)
            request.holdsRun = true
            do {
                try state.withLock { (state) throws(PublishError) in try start(&request, &state) }
            } catch {
                release(run)
                throw error
            }
        }
        while request.waiting {
            try? await Task.sleep(for: .milliseconds(2))
            state.withLock { advance(&request, &$0) }
        }
        if request.holdsRun { release(run) }
        if service.store != nil { await service.writesSettled() }
        return request.outcome
    }

    /// A publish request under way: its steps and how far it got.
    struct PublishRequest {
        let run: String
        let events: [PublishedEvent]
        let deadline: UInt64
        var steps: [PublishBook.Step] = []
        var next = 0
        var outcome = PublishOutcome(results: [])
        /// Stopped at a full window, with time left to wait.
        var waiting = false
        /// Marked as the run's request under way (``acquire(_:)``): released at the end.
        var holdsRun = false

        init(run: String, events: [PublishedEvent], deadline: UInt64) {
            self.run = run
            self.events = events
            self.deadline = deadline
        }
    }

    /// Plans `request` and takes it as far as it goes without waiting; a request that must wait holds the run.
    private func start(_ request: inout PublishRequest, _ state: inout State) throws(PublishError) {
        request.steps = try state.book.plan(request.events, for: request.run)
        advance(&request, &state)
        if request.waiting && !request.holdsRun {
            state.busy[request.run] = []
            request.holdsRun = true
        }
    }

    /// Takes `request`'s steps from where it stopped as far as they go without waiting: answers retries, emits the
    /// new events up to the next retry in one batch (one acquisition of the service's lock). Stops at a full window
    /// (``PublishRequest/waiting`` while its deadline allows, else 429) or at a refusal.
    private func advance(_ request: inout PublishRequest, _ state: inout State) {
        request.waiting = false
        let durable = service.store != nil
        while request.next < request.steps.count, request.outcome.refusal == nil {
            if case .duplicate(let seqs) = request.steps[request.next] {
                request.outcome.results.append(.init(id: request.events[request.next].id, seqs: seqs, duplicate: true))
                request.next += 1
                continue
            }
            var end = request.next
            while end < request.steps.count, case .emit = request.steps[end] { end += 1 }
            let batch = request.events[request.next..<end]
            // With a store, the records carry the id: the store records it in the same commit (EA-PUB-13).
            let emissions = batch.map { event in
                ReconcilerService.Emission(
                    run: request.run, kind: event.kind, payload: event.payload, confirm: event.confirm,
                    endsRun: event.endsRun, origin: durable ? PublishedEvent.origin(of: event.id) : nil)
            }
            let (seqs, refusal) = service.emit(emissions, toEach: state.book.sessions(of: request.run))
            let now = clock.nowMs()
            for (event, seqs) in zip(batch, seqs) {
                state.book.accepted(event, seqs: seqs, in: request.run, now: now)
                request.outcome.results.append(.init(id: event.id, seqs: seqs, duplicate: false))
            }
            request.next += seqs.count
            guard let refusal else { continue }
            switch refusal.code {
            case "window_exceeded" where now < request.deadline:
                request.waiting = true
                return
            case "window_exceeded":
                request.outcome.refusal = PublishError(status: 429, code: "window_full", message: refusal.message)
                request.outcome.retryAfterMs = 1_000
            case "store_unavailable":
                request.outcome.refusal = PublishError(
                    status: 503, code: "store_unavailable", message: refusal.message)
            case "run_ended":
                state.book.endedElsewhere(request.run, now: now)
                request.outcome.refusal = .runEnded(request.run)
            default:
                request.outcome.refusal = PublishError(status: 409, code: refusal.code, message: refusal.message)
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
