import EventAckProtocol
import EventAckReconciler
import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// The server's half of the load benchmark (`POST /bench`, only with `--bench`): emits N events of a fixed payload
/// size to the caller's session, each stamped with its emit time (`{"t":"NANOSECONDS",…}`, `CLOCK_MONOTONIC`, which
/// a client on the same machine reads too: the client measures emit → delivery), as fast as the window allows
/// (`max`) or at a fixed rate (`paced`), and measures, on this server's clock, the time from each emit to the
/// arrival of the receipt ack that covers it, and this process's CPU time.
///
/// Every run belongs to one session and lives in a table keyed by it: only acks received on that session's own
/// connection count, a second run on the same session is refused, and a run that fails or times out removes its
/// entry, so that nothing one benchmark leaves behind can disturb another.
final class LoadBenchmark: Sendable {
    struct Request: Decodable, Sendable {
        var session: String
        var events: Int
        var variant: String
        var rate: Int?
        var payloadBytes: Int?
    }

    struct Result: Codable, Sendable {
        var variant: String
        var events: Int
        var seconds: Double
        var eventsPerSecond: Double
        var p50Micros: Double
        var p99Micros: Double
        var serverCPUMicrosPerEvent: Double
    }

    /// A request the benchmark refuses, with the HTTP status to answer.
    struct Refusal: Error {
        var status: Int
        var code: String
        var message: String
    }

    /// Bounds of a request: enough for any measurement, far from what would exhaust the server.
    static let maxEvents = 2_000_000
    static let maxPayloadBytes = 65_536
    static let maxRate = 1_000_000
    /// The longest a run waits for acks that do not come (a stuck or silent client), plus a millisecond per event.
    let ackTimeout: Duration

    private struct Run {
        var firstSeq: Seq?
        var emittedAt: [UInt64]
        var ackedAt: [UInt64]
        /// Events covered by a receipt ack so far.
        var acked = 0
        var waiter: CheckedContinuation<Void, Never>?
    }

    /// A run in progress, shared by its emitter (which holds it, and so takes no lookup per event) and the acks of its
    /// session (found through ``runs``).
    private final class RunState: Sendable {
        let run: Mutex<Run>

        init(count: Int) {
            run = Mutex(Run(emittedAt: .init(repeating: 0, count: count), ackedAt: .init(repeating: 0, count: count)))
        }

        /// Wakes the parked emitter, if any.
        func wake() {
            run.withLock { run in
                defer { run.waiter = nil }
                return run.waiter
            }?.resume()
        }
    }

    private let runs = Mutex<[SessionID: RunState]>([:])
    private let service: ReconcilerService
    private let window: Int

    init(service: ReconcilerService, window: Int, ackTimeout: Duration = .seconds(30)) {
        self.service = service
        self.window = window
        self.ackTimeout = ackTimeout
    }

    /// Called with every frame a connection receives, and its session: records receipt acks of that session's run.
    /// It runs under the reconciler service's lock, so it must stay cheap: the run is changed in place, never copied
    /// out and back — a copy of its two 200,000-entry arrays per ack is what made this benchmark measure itself
    /// instead of the server.
    func frameArrived(session: SessionID?, text: String) {
        // A cheap filter before decoding: any JSON spelling of an ack names the type "ack".
        guard let session, text.contains(#""ack""#) else { return }
        guard case .ack(let ack)? = try? MessageCodec().decode(text), let receipt = ack.receipt,
            let state = runs.withLock({ $0[session] })
        else { return }
        let now = Self.nanoseconds()
        state.run.withLock { Self.record(receipt, at: now, in: &$0) }?.resume()
    }

    /// Marks the events `receipt` newly covers as acked at `now`; returns the parked emitter to wake, if any.
    private static func record(_ receipt: AckSet, at now: UInt64, in run: inout Run) -> CheckedContinuation<
        Void, Never
    >? {
        guard let first = run.firstSeq else { return nil }
        let covered = Int(min(Seq(run.emittedAt.count), (receipt.upTo + 1) - min(receipt.upTo + 1, first)))
        guard covered > run.acked else { return nil }
        for index in run.acked..<covered { run.ackedAt[index] = now }
        run.acked = covered
        defer { run.waiter = nil }
        return run.waiter
    }

    /// Checks a request; throws a ``Refusal`` with a 400 status for values out of bounds.
    static func validate(_ request: Request) throws(Refusal) {
        guard (1...maxEvents).contains(request.events) else {
            throw Refusal(status: 400, code: "invalid_argument", message: "events must be 1…\(maxEvents)")
        }
        guard request.variant == "max" || request.variant == "paced" else {
            throw Refusal(status: 400, code: "invalid_argument", message: "variant is max or paced")
        }
        if let rate = request.rate, !(1...maxRate).contains(rate) {
            throw Refusal(status: 400, code: "invalid_argument", message: "rate must be 1…\(maxRate)")
        }
        if let bytes = request.payloadBytes, !(16...maxPayloadBytes).contains(bytes) {
            throw Refusal(status: 400, code: "invalid_argument", message: "payloadBytes must be 16…\(maxPayloadBytes)")
        }
    }

    /// Runs a benchmark on the event loop of the session's connection, as an agent that emits to one session should
    /// (``ReconcilerService/writerExecutor(of:)``): each emit reaches the connection's writer on the thread that
    /// writes. From another thread, every event paced on its own woke that thread (A/B: server CPU at `max` 10.6 →
    /// 9.1 µs/event, paced p50 ~170 → ~125 µs).
    func run(_ request: Request) async throws -> Result {
        try await withTaskExecutorPreference(service.writerExecutor(of: SessionID(request.session))) {
            try await measure(request)
        }
    }

    private func measure(_ request: Request) async throws -> Result {
        try Self.validate(request)
        let session = SessionID(request.session)
        let count = request.events
        let state = RunState(count: count)
        let claimed = runs.withLock { runs -> Bool in
            guard runs[session] == nil else { return false }
            runs[session] = state
            return true
        }
        guard claimed else {
            throw Refusal(status: 409, code: "conflict", message: "a benchmark already runs on this session")
        }
        // Whatever happens below, the session's entry goes: nothing is left for the next run to trip on.
        let watchdog = watchdog(state)
        defer {
            watchdog.cancel()
            runs.withLock { _ = $0.removeValue(forKey: session) }
            state.wake()
        }
        let payload = StampedPayload(bytes: request.payloadBytes ?? 200)
        let run = "bench_\(Self.nanoseconds())"
        let cpuBefore = Self.cpuMicros()
        let rate = request.variant == "paced" ? request.rate ?? 10_000 : nil
        let start = Self.nanoseconds()
        let giveUp = ContinuousClock.now + ackTimeout + .seconds(Double(count) / 1_000)
        var emitted = 0
        while emitted < count {
            guard ContinuousClock.now < giveUp else { throw Self.timedOut(emitted: emitted) }
            if let rate {
                // Paced as the peers' producers are: each event when it is due (start + i / rate), sleeping until
                // then; one late (the sleep overslept) goes at once. Emitting every millisecond's worth together
                // measured the burst, not the event: each waited for the ones emitted before it.
                let due = start + UInt64(Double(emitted) * 1e9 / Double(rate))
                let now = Self.nanoseconds()
                if due > now { try await Task.sleep(for: .nanoseconds(due - now), tolerance: .zero) }
                try emit(emitted, run: run, payload: payload, session: session, state: state)
                emitted += 1
                // Let the connection's writer (queued behind us on this event loop) send the event before we arm
                // the next sleep: arming it costs tens of µs that the event would otherwise wait.
                await Task.yield()
            } else {
                // Max: keep the window full.
                if await waitForRoom(state, emitted: emitted) {
                    try emit(emitted, run: run, payload: payload, session: session, state: state)
                    emitted += 1
                }
            }
        }
        while state.run.withLock({ $0.acked }) < count {
            guard ContinuousClock.now < giveUp else { throw Self.timedOut(emitted: emitted) }
            try await Task.sleep(for: .milliseconds(1))
        }
        return try Self.result(of: state, variant: request.variant, cpuMicros: Self.cpuMicros() - cpuBefore)
    }

    /// What a run measured, once every event is acked: rate, emit → ack latencies, server CPU per event.
    private static func result(of state: RunState, variant: String, cpuMicros: UInt64) throws -> Result {
        let (emittedAt, ackedAt) = state.run.withLock { ($0.emittedAt, $0.ackedAt) }
        guard let last = ackedAt.max() else { throw Self.timedOut(emitted: emittedAt.count) }
        let count = ackedAt.count
        let latencies = zip(emittedAt, ackedAt).map { Double($1 - min($1, $0)) / 1000 }.sorted()
        let seconds = max(1e-9, Double(last - emittedAt[0]) / 1e9)
        return Result(
            variant: variant, events: count, seconds: seconds, eventsPerSecond: Double(count) / seconds,
            p50Micros: latencies[latencies.count / 2],
            p99Micros: latencies[min(latencies.count - 1, latencies.count * 99 / 100)],
            serverCPUMicrosPerEvent: Double(cpuMicros) / Double(count))
    }

    private static func timedOut(emitted: Int) -> Refusal {
        Refusal(
            status: 504, code: "timeout",
            message: "the client did not acknowledge in time (\(emitted) events emitted); is it reading?")
    }

    private func emit(
        _ index: Int, run: String, payload: StampedPayload, session: SessionID, state: RunState
    ) throws {
        let now = Self.nanoseconds()
        let seq = try service.emit(run: run, kind: "bench_event", payload: payload.stamped(now), to: session)
        state.run.withLock { run in
            if run.firstSeq == nil { run.firstSeq = seq }
            run.emittedAt[index] = now
        }
    }

    /// Waits until the window has room for one more event; `false` if woken without room (check the deadline).
    private func waitForRoom(_ state: RunState, emitted: Int) async -> Bool {
        // Only `acked` is read, never the whole run: a copy held outside the lock would make the next in-place
        // change copy the run's arrays.
        let full = { (acked: Int) in emitted - acked >= self.window }
        if !full(state.run.withLock({ $0.acked })) { return true }
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let parked = state.run.withLock { run -> Bool in
                guard full(run.acked) else { return false }
                run.waiter = continuation
                return true
            }
            if !parked { continuation.resume() }
        }
        return !full(state.run.withLock { $0.acked })
    }

    /// Wakes the run's parked emitter every 50 ms, so that a silent client cannot park it for ever.
    private func watchdog(_ state: RunState) -> Task<Void, Never> {
        Task {
            while !Task.isCancelled {
                try? await Task.sleep(for: .milliseconds(50))
                state.wake()
            }
        }
    }

    static func nanoseconds() -> UInt64 {
        var spec = timespec()
        clock_gettime(CLOCK_MONOTONIC, &spec)
        return UInt64(spec.tv_sec) * 1_000_000_000 + UInt64(spec.tv_nsec)
    }

    static func cpuMicros() -> UInt64 {
        var usage = rusage()
        getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage)
        let user = UInt64(usage.ru_utime.tv_sec) * 1_000_000 + UInt64(usage.ru_utime.tv_usec)
        let system = UInt64(usage.ru_stime.tv_sec) * 1_000_000 + UInt64(usage.ru_stime.tv_usec)
        return user + system
    }
}

/// The benchmark's payload: `{"t":"NANOSECONDS","text":"xxx…"}`, the stamp as 20 zero-padded digits so that every
/// payload has the same size; built by overwriting the digits of a template (strings built per event cost more than
/// the rest of an emit).
struct StampedPayload {
    private let template: [UInt8]
    private static let head = Array(#"{"t":""#.utf8)
    private static let digits = 20

    init(bytes: Int) {
        let tail = Array(#"","text":""#.utf8)
        let fixed = Self.head.count + Self.digits + tail.count + 2
        template =
            Self.head + [UInt8](repeating: UInt8(ascii: "0"), count: Self.digits) + tail
            + [UInt8](repeating: UInt8(ascii: "x"), count: max(0, bytes - fixed)) + Array(#""}"#.utf8)
    }

    func stamped(_ nanoseconds: UInt64) -> Payload {
        var bytes = template
        var rest = nanoseconds
        for index in stride(from: Self.head.count + Self.digits - 1, through: Self.head.count, by: -1) {
            bytes[index] = UInt8(ascii: "0") + UInt8(rest % 10)
            rest /= 10
        }
        // Valid compact JSON by construction; `Payload(json:)` checks it all the same.
        return (try? Payload(json: String(decoding: bytes, as: UTF8.self))) ?? .empty
    }
}
