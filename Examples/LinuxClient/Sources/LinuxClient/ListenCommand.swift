import ArgumentParser
import EventAckClient
import EventAckProtocol
import Foundation
import Synchronization

/// The client's half of the publish benchmark: connects, prints `session ID`, receives what a producer publishes to
/// it through the publish API (acking as the SDK does) until nothing has arrived for `--idle-ms` after the first
/// event, and prints one tab-separated row: `system variant msgs seconds msgs/s p50_us p99_us notes`, where the
/// latency is publish → delivery to the app (payloads stamped `{"t":"NANOSECONDS"}` with CLOCK_MONOTONIC by the
/// load generator on this machine) and `seconds` runs from the first delivery to the last.
struct ListenCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "listen",
        abstract: "Receive published events and print their delivery latency (publish benchmark).")

    @OptionGroup var server: ServerOptions

    @Option(help: "The row's variant name.")
    var variant = "publish"

    @Option(help: "Stop once nothing arrived for this long after the first event, ms.")
    var idleMs = 2_000

    @Option(help: "Give up after this many seconds.")
    var timeout = 300.0

    func run() async throws {
        let client = EventAckClient(transport: server.transport(to: server.url))
        await client.start()
        guard let session = await Self.firstSession(of: client) else { throw ValidationError("no session") }
        Console.line("session \(session)")
        let deliveries = await Self.receive(from: client, idleMs: idleMs, timeout: timeout)
        guard let first = deliveries.first, let last = deliveries.last else {
            throw ValidationError("nothing delivered")
        }
        let latencies = deliveries.compactMap(\.latency).sorted()
        let seconds = Double(last.at - first.at) / 1e9
        let percentile = { (fraction: Double) -> String in
            guard !latencies.isEmpty else { return "-" }
            return String(
                format: "%.0f",
                Double(latencies[min(latencies.count - 1, Int(Double(latencies.count) * fraction))]) / 1000)
        }
        Console.line(
            [
                "eventack-publish", variant, "\(deliveries.count)", String(format: "%.3f", seconds),
                String(format: "%.0f", seconds > 0 ? Double(deliveries.count) / seconds : 0), percentile(0.5),
                percentile(0.99), "latency=publish_to_client_delivery stamped=\(latencies.count)",
            ].joined(separator: "\t"))
    }

    /// The session of the first connection.
    static func firstSession(of client: EventAckClient) async -> String? {
        for await signal in client.signals {
            if case .connected(let id, _) = signal { return id }
        }
        return nil
    }

    /// One delivery: when it reached the app, and how long after its stamp.
    struct Delivery: Sendable {
        var at: UInt64
        var latency: UInt64?
    }

    /// Deliveries until `idleMs` pass without one after the first (or `timeout` seconds in all); closes the client.
    static func receive(from client: EventAckClient, idleMs: Int, timeout: Double) async -> [Delivery] {
        let lastAt = LastDelivery()
        let collected = Task {
            var deliveries: [Delivery] = []
            for await delivery in client.events {
                let now = BenchCommand.monotonicNanoseconds()
                let sent = BenchCommand.stamp(of: delivery.event.payload.json)
                deliveries.append(Delivery(at: now, latency: sent.map { now - min(now, $0) }))
                lastAt.at.store(now, ordering: .relaxed)
            }
            return deliveries
        }
        let started = BenchCommand.monotonicNanoseconds()
        while true {
            try? await Task.sleep(for: .milliseconds(100))
            let now = BenchCommand.monotonicNanoseconds()
            let last = lastAt.at.load(ordering: .relaxed)
            if last > 0, now - min(now, last) > UInt64(idleMs) * 1_000_000 { break }
            if Double(now - started) / 1e9 > timeout { break }
        }
        await client.close()
        return await collected.value
    }
}

/// When the last delivery reached the app, for the idle check.
final class LastDelivery: Sendable {
    let at = Atomic<UInt64>(0)
}
