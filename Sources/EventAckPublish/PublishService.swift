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
    }

    /// The service events are emitted through.
    public let service: ReconcilerService
    let state: LockedState<State>
    let clock: any EventAckClock
    let observed = BatchQueue<ReconciliationEvent>()
    let maxFrameBytes: Int
    private let tasks: LockedState<[Task<Void, Never>]> = LockedState([])

    /// How often the service forgets runs past their retention.
    public static let tickMs: UInt64 = 1_000

    /// A publish API over `service`; run ids it makes come from `runIDs`.
    public init(service: ReconcilerService, runIDs: RunIDGenerator, clock: any EventAckClock = SystemEventAckClock()) {
        let configuration = service.configuration
        self.service = service
        self.clock = clock
        self.maxFrameBytes = configuration.maxFrameBytes
        self.state = LockedState(
            State(book: PublishBook(terminalKinds: configuration.runProfile?.terminalKinds ?? []), runIDs: runIDs))
        let observed = self.observed
        // Only what the book takes in: events about a run (confirmations, failures, verdicts).
        service.addObserver { event in if event.run != nil { _ = observed.push(event) } }
    }

    /// Starts the tasks that take in the service's events and forget old runs; stop them with ``stop()``.
    public func start() {
        let intake = Task { [self] in
            while let events = await observed.next() {
                let woken = state.withLock { state in
                    var woken: [CheckedContinuation<Void, Never>] = []
                    for event in events {
                        state.book.observe(event)
                        guard let run = event.run, let waiters = state.feedWaiters.removeValue(forKey: run) else {
                            continue
                        }
                        woken += waiters.values
                    }
                    return woken
                }
                for waiter in woken { waiter.resume() }
            }
        }
        let ticker = Task { [self] in
            while !Task.isCancelled {
                try? await Task.sleep(for: .milliseconds(Self.tickMs))
                retireOldRuns()
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
