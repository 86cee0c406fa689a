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
        let client = EventAckClient(transport: WebSocketClientTransport(url: server.url, token: server.token))
        await client.start()
        var session: String?
        for await signal in client.signals {
            if case .connected(let id, _) = signal {
                session = id
                break
            }
        }
        guard let session else { throw ValidationError("no session") }
        // Drain deliveries: receipt acks are sent by the SDK as events arrive.
        let drain = Task {
            var count = 0
            for await _ in client.events { count += 1 }
            return count
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
        let delivered = await drain.value
        if header { Console.line("system\tvariant\tmsgs\tseconds\tmsgs/s\tp50_us\tp99_us\tnotes") }
        let notes =
            "server_cpu_us_per_msg=\(String(format: "%.2f", result.serverCPUMicrosPerEvent)) "
            + "payload=\(payloadBytes)B delivered=\(delivered)"
            + (variant == "paced" ? " rate=\(rate)/s" : "")
        Console.line(
            [
                "eventack", result.variant, "\(result.events)", String(format: "%.3f", result.seconds),
                String(format: "%.0f", result.eventsPerSecond), String(format: "%.0f", result.p50Micros),
                String(format: "%.0f", result.p99Micros), notes,
            ].joined(separator: "\t"))
    }
}
