import EventAckProtocol
import EventAckReconciler
import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// The server's half of the load benchmark (`POST /bench`): emits N events of a fixed payload size to the caller's
/// session, as fast as the window allows (`max`) or at a fixed rate (`paced`), and measures, on this server's
/// clock, the time from each emit to the arrival of the receipt ack that covers it, and this process's CPU time.
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

    private struct Run {
        var session: String
        var firstSeq: Seq
        var emittedAt: [UInt64]
        var ackedAt: [UInt64]
        /// Seqs below this are covered by a receipt ack.
        var ackedUpTo: Seq
        var waiter: CheckedContinuation<Void, Never>?
    }

    private let current = Mutex<Run?>(nil)
    private let service: ReconcilerService
    private let window: Int

    init(service: ReconcilerService, window: Int) {
        self.service = service
        self.window = window
    }

    /// Called with every frame any connection receives: records receipt acks of the running benchmark.
    func frameArrived(_ text: String) {
        guard text.hasPrefix(#"{"type":"ack""#) else { return }
        let now = Self.nanoseconds()
        guard case .ack(let ack)? = try? MessageCodec().decode(text), let receipt = ack.receipt else { return }
        let waiter = current.withLock { run -> CheckedContinuation<Void, Never>? in
            guard var state = run else { return nil }
            let end = min(receipt.upTo + 1, state.firstSeq + Seq(state.emittedAt.count))
            guard end > state.ackedUpTo else { return nil }
            for seq in state.ackedUpTo..<end { state.ackedAt[Int(seq - state.firstSeq)] = now }
            state.ackedUpTo = end
            let waiter = state.waiter
            state.waiter = nil
            run = state
            return waiter
        }
        waiter?.resume()
    }

    func run(_ request: Request) async throws -> Result {
        let session = SessionID(request.session)
        let count = max(1, request.events)
        let padding = String(repeating: "x", count: max(0, (request.payloadBytes ?? 200) - #"{"text":""}"#.utf8.count))
        let payload = try Payload(json: #"{"text":"\#(padding)"}"#)
        let run = "bench_\(Self.nanoseconds())"
        let cpuBefore = Self.cpuMicros()
        let rate = request.variant == "paced" ? max(1, request.rate ?? 10_000) : nil
        let start = Self.nanoseconds()
        var emitted = 0
        while emitted < count {
            if let rate {
                // Paced: emit every event whose time has come, then sleep a millisecond.
                let due = min(count, Int(Double(Self.nanoseconds() - start) / 1e9 * Double(rate)) + 1)
                while emitted < due {
                    try emit(emitted, run: run, payload: payload, session: session, count: count)
                    emitted += 1
                }
                try await Task.sleep(for: .milliseconds(1))
            } else {
                // Max: keep the window full.
                await waitForRoom(emitted: emitted)
                try emit(emitted, run: run, payload: payload, session: session, count: count)
                emitted += 1
            }
        }
        await waitForAllAcked(count)
        let cpuAfter = Self.cpuMicros()
        let state = current.withLock { run in
            defer { run = nil }
            return run!
        }
        let latencies = zip(state.emittedAt, state.ackedAt).map { Double($1 - min($1, $0)) / 1000 }.sorted()
        let seconds = Double(state.ackedAt.max()! - state.emittedAt[0]) / 1e9
        return Result(
            variant: request.variant, events: count, seconds: seconds, eventsPerSecond: Double(count) / seconds,
            p50Micros: latencies[latencies.count / 2],
            p99Micros: latencies[min(latencies.count - 1, latencies.count * 99 / 100)],
            serverCPUMicrosPerEvent: Double(cpuAfter - cpuBefore) / Double(count))
    }

    private func emit(_ index: Int, run: String, payload: Payload, session: SessionID, count: Int) throws {
        let now = Self.nanoseconds()
        let seq = try service.emit(run: run, kind: "bench_event", payload: payload, to: session)
        current.withLock { state in
            if state == nil {
                state = Run(
                    session: session.rawValue, firstSeq: seq, emittedAt: .init(repeating: 0, count: count),
                    ackedAt: .init(repeating: 0, count: count), ackedUpTo: seq)
            }
            state!.emittedAt[index] = now
        }
    }

    private func waitForRoom(emitted: Int) async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let wait = current.withLock { run -> Bool in
                guard var state = run, emitted - Int(state.ackedUpTo - state.firstSeq) >= window else { return false }
                state.waiter = continuation
                run = state
                return true
            }
            if !wait { continuation.resume() }
        }
    }

    private func waitForAllAcked(_ count: Int) async {
        while !current.withLock({ run in run.map { Int($0.ackedUpTo - $0.firstSeq) >= count } ?? true }) {
            try? await Task.sleep(for: .milliseconds(1))
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
