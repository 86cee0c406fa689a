@_spi(Shell) import EventAckProtocol
import EventAckReconciler

/// The publish API over a `ReconcilerService` (§ 16 of the spec): what an HTTP host calls for `POST /v1/runs`,
/// `POST /v1/runs/{run}/events`, `…/progress`, `GET /v1/runs/{run}` and its confirmations feed. The rules are in
/// ``PublishBook``; this shell holds it under a lock, emits through the service, and waits for room and for the
/// store. Runs whose producer went silent are ended by the service's sessions (EA-RUN-2), with each run's
/// `idleTimeoutMs`.
///
/// Lock order: the book's lock, then the service's. The service hands its reconciliation events to a queue (never
/// to the book directly), and a task of this service moves them into the book.
public final class PublishService: Sendable {
    struct State: Sendable {
        var book: PublishBook
        var runIDs: RunIDGenerator
        /// Runs with a publish request under way, and who waits for each (EA-PUB-4: one request at a time per run).
        var busy: [String: [CheckedContinuation<Void, Never>]] = [:]
        /// Readers of a run's feed waiting for something new, by run and reader (``waitForFeed(of:after:timeoutMs:)``).
        var feedWaiters: [String: [UInt64: CheckedContinuation<Void, Never>]] = [:]
        var nextWaiter: UInt64 = 0
        /// Runs the ledger is being asked for, and what the service said of them meanwhile (replayed once known).
        var loading: [String: [ReconciliationEvent]] = [:]
        /// Runs the ledger does not know (a simulated agent's, say): not asked for again. Bounded.
        var notPublished: Set<String> = []
    }

    /// The service events are emitted through.
    public let service: ReconcilerService
    /// Where runs and producer ids are kept across nodes and crashes, with durable sessions (EA-PUB-13); without
    /// one they live in this process.
    public let ledger: (any PublishLedger)?
    /// The prefix of this service's confirmations-stream ids: a `Last-Event-ID` from another incarnation of the run's
    /// feed (another node's, before a crash) starts the stream at this feed's beginning instead of skipping into it.
    public let feedGeneration: String
    let state: LockedState<State>
    let clock: any EventAckClock
    let observed = BatchQueue<ReconciliationEvent>()
    let maxFrameBytes: Int
    private let tasks: LockedState<[Task<Void, Never>]> = LockedState([])

    /// How often the service forgets runs past their retention.
    public static let tickMs: UInt64 = 1_000

    /// A publish API over `service`; run ids it makes come from `runIDs`. With durable sessions, pass the store's
    /// `ledger` so that runs and ids outlive this node.
    public init(
        service: ReconcilerService, runIDs: RunIDGenerator, ledger: (any PublishLedger)? = nil,
        clock: any EventAckClock = SystemEventAckClock()
    ) {
        let configuration = service.configuration
        self.service = service
        self.ledger = ledger
        self.feedGeneration = String(UInt32.random(in: 0x1000_0000...UInt32.max), radix: 36)
        self.clock = clock
        self.maxFrameBytes = configuration.maxFrameBytes
        self.state = LockedState(
            State(
                book: PublishBook(defaultProfile: configuration.runProfile, profiles: configuration.runProfiles),
                runIDs: runIDs))
        let observed = self.observed
        // Only what the book takes in: events about a run (confirmations, failures, verdicts).
        service.addObserver { event in if event.run != nil { _ = observed.push(event) } }
    }

    /// Starts the tasks that take in the service's events and forget old runs; stop them with ``stop()``.
    public func start() {
        let intake = Task { [self] in
            while let events = await observed.next() {
                var toLoad: [String] = []
                let woken = state.withLock { state in
                    var woken: [CheckedContinuation<Void, Never>] = []
                    for event in events {
                        guard let run = event.run else { continue }
                        guard state.book.knows(run) else {
                            if ledger != nil, Self.shouldAsk(about: run, &state) { toLoad.append(run) }
                            state.loading[run]?.append(event)
                            continue
                        }
                        state.book.observe(event)
                        guard let waiters = state.feedWaiters.removeValue(forKey: run) else { continue }
                        woken += waiters.values
                    }
                    return woken
                }
                for waiter in woken { waiter.resume() }
                for run in toLoad { Task { try? await load(run) } }
            }
        }
        let ticker = Task { [self] in
            while !Task.isCancelled {
                try? await Task.sleep(for: .milliseconds(Self.tickMs))
                retireOldRuns()
                forgetRunsServedElsewhere()
                await tellLedgerOfEndedRuns()
            }
        }
        tasks.withLock { $0 = [intake, ticker] }
    }

    /// Stops the tasks ``start()`` started.
    public func stop() {
        observed.finish()
        for task in tasks.withLock({ $0 }) { task.cancel() }
    }

    /// Returns once the feed of `run` has items after `after`, is complete, or the run is unknown — or after
    /// `timeoutMs` (for a keepalive): what a confirmations stream waits on instead of polling.
    public func waitForFeed(of run: String, after: Int, timeoutMs: UInt64) async {
        let id = state.withLock { state in
            state.nextWaiter += 1
            return state.nextWaiter
        }
        let timeout = Task { [self] in
            try? await Task.sleep(for: .milliseconds(timeoutMs))
            state.withLock { $0.feedWaiters[run]?.removeValue(forKey: id) }?.resume()
        }
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let ready = state.withLock { state -> Bool in
                guard let feed = state.book.feed(of: run, after: after), feed.items.isEmpty, !feed.complete else {
                    return true
                }
                state.feedWaiters[run, default: [:]][id] = continuation
                return false
            }
            if ready { continuation.resume() }
        }
        timeout.cancel()
    }
}

extension PublishService {
    /// Whether to ask the ledger about `run`, which the service reported on and the book does not know: a run of a
    /// session this node took over. Starts buffering what is said of it until the answer.
    private static func shouldAsk(about run: String, _ state: inout State) -> Bool {
        guard state.loading[run] == nil, !state.notPublished.contains(run) else { return false }
        state.loading[run] = []
        return true
    }

    /// Makes `run` known here, from the ledger if this node has not served it (it was opened on a node that served
    /// its sessions before), replaying what the service said of it meanwhile.
    ///
    /// - Throws: 404 for a run no node opened (or that was retired), 503 when the ledger cannot be read.
    public func load(_ run: String) async throws(PublishError) {
        if state.withLock({ $0.book.knows(run) }) { return }
        guard let ledger else { throw .unknownRun(run) }
        state.withLock { state in if state.loading[run] == nil { state.loading[run] = [] } }
        let recorded: LedgerRun?
        do {
            recorded = try await ledger.run(run)
        } catch {
            state.withLock { _ = $0.loading.removeValue(forKey: run) }
            throw .storeUnavailable(error)
        }
        let woken = state.withLock { state -> [CheckedContinuation<Void, Never>] in
            let said = state.loading.removeValue(forKey: run) ?? []
            guard let recorded else {
                if state.notPublished.count >= 10_000 { state.notPublished = [] }
                state.notPublished.insert(run)
                return []
            }
            state.book.adopt(recorded, now: clock.nowMs())
            for event in said { state.book.observe(event) }
            return Array((state.feedWaiters.removeValue(forKey: run) ?? [:]).values)
        }
        for waiter in woken { waiter.resume() }
        guard recorded != nil else { throw .unknownRun(run) }
    }

    /// With a ledger, forgets the undecided runs none of whose sessions this node holds now (a client resumed on
    /// another node, or this node was fenced): that node takes their events, and what this book knows of them goes
    /// stale. Should the sessions come back, the run is read from the ledger again, with every id taken meanwhile. A
    /// decided run takes nothing more: it stays, with its feed, for its retention.
    func forgetRunsServedElsewhere() {
        guard ledger != nil else { return }
        state.withLock { state in
            for run in state.book.undecidedRunIDs where !state.book.sessions(of: run).contains(where: service.holds) {
                state.book.forget(run)
            }
        }
    }

    /// Tells the ledger which runs ended, so that it retires their ids after the retention.
    func tellLedgerOfEndedRuns() async {
        let ended = state.withLock { $0.book.takeEndedForLedger() }
        guard let ledger else { return }
        for (run, at) in ended { try? await ledger.ended(run, at: at) }
    }
}

extension ReconciliationEvent {
    /// The run a confirmation, failure or verdict is about.
    var run: String? {
        switch self {
        case .confirmed(let reference, _, _), .failed(let reference, _, _): reference.run
        case .runFinished(let report): report.run
        default: nil
        }
    }
}
