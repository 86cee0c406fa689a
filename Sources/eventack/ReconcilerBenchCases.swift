import EventAckProtocol
import EventAckReconciler

#if canImport(Glibc)
    import Glibc
#endif

/// The reconciler's per-event cost, measured through its public inputs: frames in, actions out.
enum ReconcilerBenchCases {
    static let payload = try! Payload(json: #"{"text":"thinking about the question, step by step, carefully"}"#)
    static let started = Payload.empty
    static let completed = try! Payload(json: #"{"result":"the answer, with its sources"}"#)
    /// Run ids, made once so that the loop measures the reconciler and not string formatting.
    static let runIDs = (0..<20_001).map { "run_\($0)" }

    /// Events of agent runs of 50: `agent_started`, 48 × `agent_thinking`, `agent_completed`.
    static func agentEvent(_ seq: UInt64) -> (run: String, kind: String, payload: Payload) {
        let run = runIDs[Int((seq - 1) / 50 % 20_000)]
        switch (seq - 1) % 50 {
        case 0: return (run, "agent_started", started)
        case 49: return (run, "agent_completed", completed)
        default: return (run, "agent_thinking", payload)
        }
    }

    /// A reconciler with one session whose window holds `window` events, and the session's connection.
    static func connected(window: UInt64, writesAhead: Bool = false) -> (Reconciler, ConnectionID, SessionID) {
        var configuration = ReconcilerConfiguration()
        configuration.window = window
        configuration.maxQueuedEvents = Int(window)
        configuration.reportsEachConfirmation = false
        var reconciler = Reconciler(
            configuration: configuration, random: SystemRandomNumberGenerator(), writesAhead: writesAhead)
        let connection = reconciler.open(principal: "bench", now: 0)
        let hello = #"{"type":"hello","versions":["1.0"],"client":{"name":"bench","version":"1"},"window":"#
        _ = reconciler.frameReceived(hello + "\(window)}", on: connection, now: 0)
        return (reconciler, connection, reconciler.session(on: connection)!)
    }

    static var all: [BenchCase] {
        [
            // Steady state: emit, and every 32 events one receipt ack (a decoded frame) confirms them.
            BenchCase(name: "reconciler.emit-and-receipt", maxOperations: 2_000_000) { count in
                var (reconciler, connection, session) = connected(window: 256)
                var sent = 0
                for seq in 1...UInt64(count) {
                    let event = agentEvent(seq)
                    let emission = try! reconciler.emit(
                        run: event.run, kind: event.kind, payload: event.payload, to: session, now: seq / 100)
                    sent += emission.actions.count
                    if seq % 32 == 0 || seq == UInt64(count) {
                        let ack = #"{"type":"ack","receipt":{"upTo":\#(seq)}}"#
                        sent += reconciler.frameReceived(ack, on: connection, now: seq / 100).count
                    }
                }
                blackHole(sent)
            },
            // The same with a store (write-ahead): each input's records are gathered, and every 256 events written
            // as the PostgreSQL store writes them (one JSON array per session), as a durable server's flush does.
            BenchCase(name: "reconciler.durable.emit-and-receipt", maxOperations: 1_000_000) { count in
                var (reconciler, connection, session) = connected(window: 256, writesAhead: true)
                var records: [SessionRecord] = []
                var written = 0
                func gather(_ actions: [ReconcilerAction]) {
                    if case .persist(let persisted) = actions.first { records.append(contentsOf: persisted) }
                }
                for seq in 1...UInt64(count) {
                    let event = agentEvent(seq)
                    gather(
                        try! reconciler.emit(
                            run: event.run, kind: event.kind, payload: event.payload, to: session, now: seq / 100
                        ).actions)
                    if seq % 32 == 0 || seq == UInt64(count) {
                        let ack = #"{"type":"ack","receipt":{"upTo":\#(seq)}}"#
                        gather(reconciler.frameReceived(ack, on: connection, now: seq / 100))
                    }
                    if seq % 256 == 0 || seq == UInt64(count) {
                        written += SessionRecord.jsonArraysBySession(records).count
                        records.removeAll(keepingCapacity: true)
                    }
                }
                blackHole(written)
            },
            // The three levels: each event asks for value; receipt, display and value acks come in batches of 32.
            BenchCase(name: "reconciler.emit-and-value", maxOperations: 1_000_000) { count in
                var (reconciler, connection, session) = connected(window: 256)
                var sent = 0
                var batch: [Seq] = []
                for seq in 1...UInt64(count) {
                    let event = agentEvent(seq)
                    let emission = try! reconciler.emit(
                        run: event.run, kind: event.kind, payload: event.payload, confirm: .value, to: session,
                        now: seq / 100)
                    sent += emission.actions.count
                    batch.append(seq)
                    if batch.count == 32 || seq == UInt64(count) {
                        let values = batch.map { #"{"seq":\#($0)}"# }.joined(separator: ",")
                        let ack =
                            #"{"type":"ack","receipt":{"upTo":\#(seq)},"display":{"upTo":\#(seq)},"#
                            + #""value":[\#(values)]}"#
                        sent += reconciler.frameReceived(ack, on: connection, now: seq / 100).count
                        batch.removeAll(keepingCapacity: true)
                    }
                }
                blackHole(sent)
            },
            // Tracking 1M: every event outstanding at once (window = count), then one ack confirms them all.
            BenchCase(name: "reconciler.track-then-confirm", maxOperations: 1_000_000) { count in
                var (reconciler, connection, session) = connected(window: UInt64(count))
                var sent = 0
                for seq in 1...UInt64(count) {
                    let event = agentEvent(seq)
                    sent += try! reconciler.emit(
                        run: event.run, kind: event.kind, payload: event.payload, to: session, now: 1
                    ).actions.count
                }
                sent +=
                    reconciler.frameReceived(#"{"type":"ack","receipt":{"upTo":\#(count)}}"#, on: connection, now: 2)
                    .count
                blackHole(sent)
            },
        ]
    }
}

/// `eventack bench --memory`: resident bytes per outstanding event and per idle session, from the growth of the
/// process's resident set (`/proc/self/statm`) while building many of them. Linux only.
enum ReconcilerMemoryBench {
    static func heapBytes() -> Int {
        #if canImport(Glibc)
            guard let file = fopen("/proc/self/statm", "r") else { return 0 }
            defer { fclose(file) }
            var size = 0
            var resident = 0
            guard readTwoNumbers(file, &size, &resident) else { return 0 }
            return resident * Int(sysconf(Int32(_SC_PAGESIZE)))
        #else
            return 0
        #endif
    }

    #if canImport(Glibc)
        /// Reads the first two numbers of a statm line.
        private static func readTwoNumbers(_ file: UnsafeMutablePointer<FILE>, _ first: inout Int, _ second: inout Int)
            -> Bool
        {
            var buffer = [CChar](repeating: 0, count: 256)
            guard fgets(&buffer, Int32(buffer.count), file) != nil else { return false }
            let fields = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
                .split(separator: " ")
            guard fields.count >= 2, let a = Int(fields[0]), let b = Int(fields[1]) else { return false }
            first = a
            second = b
            return true
        }
    #endif

    static func run() -> [(name: String, bytes: Double, note: String)] {
        // Sessions first: measured after the events, they would fit in pages the event ring freed as it grew.
        let sessions = 10_000
        var before = heapBytes()
        var idle = Reconciler(random: SystemRandomNumberGenerator())
        let hello = #"{"type":"hello","versions":["1.0"],"client":{"name":"bench","version":"1"}}"#
        for index in 0..<sessions {
            let connection = idle.open(principal: "user\(index)", now: 0)
            _ = idle.frameReceived(hello, on: connection, now: 0)
        }
        let perSession = Double(heapBytes() - before) / Double(sessions)
        blackHole(idle.sessionCount)
        let events = 1_000_000
        before = heapBytes()
        var (reconciler, _, session) = ReconcilerBenchCases.connected(window: UInt64(events))
        for seq in 1...UInt64(events) {
            let event = ReconcilerBenchCases.agentEvent(seq)
            _ = try! reconciler.emit(run: event.run, kind: event.kind, payload: event.payload, to: session, now: 1)
        }
        let perEvent = Double(heapBytes() - before) / Double(events)
        blackHole(reconciler.retainedEventCount)

        return [
            (
                "memory.outstanding-event", perEvent,
                "1M in-flight events of one session, payload shared (not counted); includes its timer entry"
            ),
            ("memory.idle-session", perSession, "10k sessions, each with its connection, no event"),
        ]
    }
}
