import ArgumentParser
import EventAckClient
import EventAckProtocol
import Foundation

/// The client's half of the load benchmark: connects, asks the server to emit N events to its session, acks them
/// (receipt, coalesced, as the SDK does), and prints the server's measurements as a tab-separated row:
/// `system variant msgs seconds msgs/s p50_us p99_us notes`.
struct BenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench", abstract: "Run the load benchmark against an agent server.")

    @OptionGroup var server: ServerOptions

    @Option(help: "max (as fast as the window allows) or paced.")
    var variant = "max"

    @Option(help: "Events to send.")
    var events = 200_000

    @Option(help: "Events per second for the paced variant.")
    var rate = 10_000

    @Option(help: "Payload size in bytes.")
    var payloadBytes = 200

    @Flag(help: "Print the header line first.")
    var header = false

    struct Result: Decodable {
        var variant: String
        var events: Int
        var seconds: Double
        var eventsPerSecond: Double
        var p50Micros: Double
        var p99Micros: Double
        var serverCPUMicrosPerEvent: Double
    }

    func run() async throws {
        let client = EventAckClient(transport: server.transport(to: server.url))
        let cpuBefore = Self.cpuMicros()
        await client.start()
        var session: String?
        for await signal in client.signals {
            if case .connected(let id, _) = signal {
                session = id
                break
            }
        }
        guard let session else { throw ValidationError("no session") }
        // Drain deliveries: receipt acks are sent by the SDK as events arrive. Each payload carries its emit time
        // (CLOCK_MONOTONIC, shared with the server on this machine): emit → delivery, as the peers' harness measures
        // send → consumer receipt.
        let drain = Task {
            var latencies: [UInt64] = []
            latencies.reserveCapacity(events)
            var delivered = 0
            for await delivery in client.events {
                let now = Self.monotonicNanoseconds()
                delivered += 1
                if let sent = Self.stamp(of: delivery.event.payload.json) { latencies.append(now - min(now, sent)) }
            }
            return (delivered, latencies.sorted())
        }
        let request: [String: any Sendable] = [
            "session": session, "events": events, "variant": variant, "rate": rate, "payloadBytes": payloadBytes,
        ]
        let (status, body) = try await BlockingHTTP.post(
            url: ServerOptions.httpBase(of: server.runsUrl ?? server.urls[0]), path: "/bench", token: server.token,
            body: try JSONSerialization.data(withJSONObject: request))
        guard status == 200 else {
            throw ValidationError("POST /bench: \(status) \(String(decoding: body, as: UTF8.self))")
        }
        let result = try JSONDecoder().decode(Result.self, from: body)
        await client.close()
        let (delivered, latencies) = await drain.value
        let cpu = Self.cpuMicros() - cpuBefore
        guard delivered > 0 else { throw ValidationError("no event delivered") }
        // Emit → delivery when the server stamps its payloads; otherwise (an older server) emit → the server holding
        // the ack, as the notes say.
        let percentile = { (fraction: Double, server: Double) -> Double in
            guard !latencies.isEmpty else { return server }
            return Double(latencies[min(latencies.count - 1, Int(Double(latencies.count) * fraction))]) / 1000
        }
        if header { Console.line("system\tvariant\tmsgs\tseconds\tmsgs/s\tp50_us\tp99_us\tnotes") }
        let notes = notes(result, clientCPU: cpu, stamped: !latencies.isEmpty, delivered: delivered)
        Console.line(
            [
                "eventack", result.variant, "\(result.events)", String(format: "%.3f", result.seconds),
                String(format: "%.0f", result.eventsPerSecond),
                String(format: "%.0f", percentile(0.5, result.p50Micros)),
                String(format: "%.0f", percentile(0.99, result.p99Micros)), notes,
            ].joined(separator: "\t"))
    }

    /// The row's notes: CPU per event on both sides, what the latency measures, the server's ack latencies.
    func notes(_ result: Result, clientCPU: UInt64, stamped: Bool, delivered: Int) -> String {
        "server_cpu_us_per_msg=\(String(format: "%.2f", result.serverCPUMicrosPerEvent)) "
            + "client_cpu_us_per_msg=\(String(format: "%.2f", Double(clientCPU) / Double(events))) "
            + "latency=\(stamped ? "emit_to_client_delivery" : "emit_to_server_ack") "
            + "ack_p50_us=\(String(format: "%.0f", result.p50Micros)) ack_p99_us=\(String(format: "%.0f", result.p99Micros)) "
            + "payload=\(payloadBytes)B delivered=\(delivered)"
            + (variant == "paced" ? " rate=\(rate)/s" : "")
    }

    /// The emit stamp of a benchmark payload, `{"t":"NANOSECONDS",…}` (20 digits, zero-padded).
    static func stamp(of json: String) -> UInt64? {
        guard json.hasPrefix(#"{"t":""#) else { return nil }
        var value: UInt64 = 0
        var digits = 0
        for byte in json.utf8.dropFirst(6) {
            guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9"), digits < 20 else { break }
            // Twenty digits can exceed UInt64: a stamp that does is no stamp.
            let (shifted, overflow) = value.multipliedReportingOverflow(by: 10)
            let (next, carry) = shifted.addingReportingOverflow(UInt64(byte - UInt8(ascii: "0")))
            guard !overflow, !carry else { return nil }
            value = next
            digits += 1
        }
        return digits > 0 ? value : nil
    }

    static func monotonicNanoseconds() -> UInt64 {
        var spec = timespec()
        clock_gettime(CLOCK_MONOTONIC, &spec)
        return UInt64(spec.tv_sec) * 1_000_000_000 + UInt64(spec.tv_nsec)
    }

    /// This process's CPU time (user + system), in microseconds.
    static func cpuMicros() -> UInt64 {
        var usage = rusage()
        getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage)
        let user = UInt64(usage.ru_utime.tv_sec) * 1_000_000 + UInt64(usage.ru_utime.tv_usec)
        return user + UInt64(usage.ru_stime.tv_sec) * 1_000_000 + UInt64(usage.ru_stime.tv_usec)
    }
}
