import EventAckProtocol

extension ConfirmationReport {
    /// The report for people: overall figures, then sessions, then runs that did not end confirmed (or whose agent
    /// failed). Every string that a peer or an emitter chose is escaped (`DisplayText`): one line per item, always.
    public var text: String {
        let esc: (String) -> String = { DisplayText.escaping($0) }
        var lines: [String] = []
        lines.append("EventAck confirmation report at \(generatedAt)")
        lines.append(contentsOf: overall.textLines(indent: "  "))
        let verdictText = ["confirmed", "pending", "failed"].map { "\($0) \(runVerdicts[$0] ?? 0)" }
        lines.append("  runs: " + verdictText.joined(separator: ", "))
        lines.append("sessions (\(sessions.count)):")
        for session in sessions {
            lines.append(
                "  \(esc(session.session.rawValue)) \(esc(session.principal)) \(session.state.rawValue): "
                    + "\(session.stats.events) events, "
                    + "\(session.stats.confirmed) confirmed, \(session.stats.failed) failed, "
                    + "\(session.stats.pending) pending, \(session.openRuns) open runs")
        }
        let notConfirmed = runs.filter { $0.verdict != .confirmed || $0.outcome == .failed || !$0.warnings.isEmpty }
        lines.append(
            "runs not confirmed, whose agent failed, or with warnings (\(notConfirmed.count) of \(runs.count) listed):")
        for run in notConfirmed {
            let outcome = run.outcome.map { ", agent \($0.rawValue)" } ?? ""
            lines.append(
                "  \(esc(run.run)) (\(esc(run.session.rawValue)), \(esc(run.principal))) delivery "
                    + "\(run.verdict.rawValue)\(outcome): \(run.stats.events) events")
            for failure in run.failures { lines.append("    failed: \(esc(failure.description))") }
            if run.omittedFailures > 0 { lines.append("    … and \(run.omittedFailures) more failures") }
            for warning in run.warnings { lines.append("    warning: \(esc(warning.description))") }
        }
        return lines.joined(separator: "\n") + "\n"
    }
}

extension ConfirmationStats {
    func textLines(indent: String) -> [String] {
        var lines = [
            "\(indent)events: \(events) emitted, \(confirmed) confirmed at their level, \(failed) failed, "
                + "\(pending) pending; \(retransmissions) retransmissions, \(overdue) overdue, "
                + "\(duplicates) duplicates"
        ]
        for level in ConfirmationLevel.allCases {
            let stats = self[level]
            let latency = stats.latencyMs
            let rate = (stats.rate * 1000).rounded() / 10
            lines.append(
                "\(indent)\(level.rawValue): \(stats.confirmed)/\(stats.requested) (\(rate) %), "
                    + "\(stats.failed) failed, \(stats.pending) pending; latency ms p50 \(latency.percentile(0.5)) "
                    + "p90 \(latency.percentile(0.9)) p99 \(latency.percentile(0.99)) max \(latency.max)")
        }
        if !failuresByReason.isEmpty {
            let reasons = failuresByReason.sorted { $0.key < $1.key }.map {
                "\(DisplayText.escaping($0.key)) \($0.value)"
            }
            lines.append("\(indent)failures: " + reasons.joined(separator: ", "))
        }
        return lines
    }
}
