import EventAckHummingbird
import EventAckProtocol
import EventAckReconciler
import Metrics
import Prometheus
import Synchronization

/// `GET /metrics` in the Prometheus text format, through swift-metrics with swift-prometheus as its backend.
///
/// The reconciler's figures are read at scrape time from its report (one pass, outside its lock): counters advance
/// by what changed since the last scrape, gauges are set. Confirmation latency comes from the reconciler's own
/// histograms, written as Prometheus histograms. The names are listed in the README.
final class ServerMetrics: Sendable {
    private let registry: PrometheusCollectorRegistry
    private let service: ReconcilerService
    private let limits: ConnectionGuard.Limits
    private let activeRuns: @Sendable () -> Int
    /// Counter values at the previous scrape, by metric and labels.
    private let previous = Mutex<[String: Int64]>([:])
    private let latencyBounds: [UInt64] = [5, 10, 25, 50, 100, 250, 500, 1_000, 2_500, 5_000, 10_000, 30_000, 60_000]

    init(service: ReconcilerService, limits: ConnectionGuard.Limits, activeRuns: @escaping @Sendable () -> Int) {
        let registry = PrometheusCollectorRegistry()
        MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))
        self.registry = registry
        self.service = service
        self.limits = limits
        self.activeRuns = activeRuns
    }

    /// Brings every metric up to date and renders them.
    func render() -> String {
        let overall = service.overallStats()
        advance("eventack_events_emitted_total", [], overall.events)
        for level in ConfirmationLevel.allCases {
            let stats = overall[level]
            let labels = [("level", level.rawValue)]
            advance("eventack_events_confirmed_total", labels, stats.confirmed)
            advance("eventack_events_failed_total", labels, stats.failed)
            Gauge(label: "eventack_events_pending", dimensions: labels).record(Int64(clamping: stats.pending))
        }
        for (reason, count) in overall.failuresByReason {
            advance("eventack_event_failures_total", [("reason", DisplayText.escaping(reason))], count)
        }
        advance("eventack_retransmissions_total", [], overall.retransmissions)
        advance("eventack_overdue_total", [], overall.overdue)
        advance("eventack_duplicates_total", [], overall.duplicates)
        advance("eventack_emits_refused_run_ended_total", [], overall.refusedEmits)
        let store = service.storeHealth
        advance("eventack_store_failures_total", [], store.failures)
        Gauge(label: "eventack_store_available").record(store.isAvailable ? 1 : 0)
        Gauge(label: "eventack_store_pending_writes").record(store.pendingWrites)
        let counts = service.sessionCounts()
        Gauge(label: "eventack_sessions", dimensions: [("state", "attached")]).record(counts.attached)
        Gauge(label: "eventack_sessions", dimensions: [("state", "detached")]).record(counts.detached)
        Gauge(label: "eventack_retained_events").record(counts.retainedEvents)
        Gauge(label: "eventack_outbound_queue_depth_max").record(counts.deepestOutboundQueue)
        advance("eventack_connections_closed_not_reading_total", [], UInt64(counts.closedNotReading))
        Gauge(label: "eventack_connections").record(limits.open.load(ordering: .relaxed))
        Gauge(label: "eventack_connections_anonymous").record(limits.anonymous.load(ordering: .relaxed))
        advance("eventack_connections_refused_total", [], UInt64(limits.refused.load(ordering: .relaxed)))
        advance("eventack_connections_head_timeout_total", [], UInt64(limits.timedOut.load(ordering: .relaxed)))
        Gauge(label: "eventack_agent_runs_active").record(activeRuns())
        return registry.emitToString() + latencyHistograms(overall)
    }

    private func advance(_ name: String, _ labels: [(String, String)], _ value: UInt64) {
        let key = name + labels.map { "|\($0.0)=\($0.1)" }.joined()
        let now = Int64(clamping: value)
        let delta = previous.withLock { previous -> Int64 in
            defer { previous[key] = now }
            return now - (previous[key] ?? 0)
        }
        let counter = Counter(label: name, dimensions: labels)
        if delta > 0 { counter.increment(by: delta) }
    }

    /// `eventack_confirmation_latency_ms{level}`: emit → confirmation at that level, from the report's histograms.
    private func latencyHistograms(_ overall: ConfirmationStats) -> String {
        var lines = [
            "# HELP eventack_confirmation_latency_ms Time from emit to confirmation, per level.",
            "# TYPE eventack_confirmation_latency_ms histogram",
        ]
        for level in ConfirmationLevel.allCases {
            let histogram = overall[level].latencyMs
            for bound in latencyBounds {
                lines.append(
                    "eventack_confirmation_latency_ms_bucket{level=\"\(level.rawValue)\",le=\"\(bound)\"} "
                        + "\(histogram.count(atOrBelow: bound))")
            }
            lines.append(
                "eventack_confirmation_latency_ms_bucket{level=\"\(level.rawValue)\",le=\"+Inf\"} \(histogram.count)")
            lines.append("eventack_confirmation_latency_ms_sum{level=\"\(level.rawValue)\"} \(histogram.sum)")
            lines.append("eventack_confirmation_latency_ms_count{level=\"\(level.rawValue)\"} \(histogram.count)")
        }
        return lines.joined(separator: "\n") + "\n"
    }
}
