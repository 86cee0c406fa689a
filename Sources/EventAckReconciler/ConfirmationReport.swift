import EventAckProtocol

/// End-to-end confirmation, per run, per session and overall: what was emitted, what was received, displayed and
/// valued, what failed and why, how long it took. `Codable`; the JSON form is described in `Spec/REPORT.md`, and
/// ``text`` renders it for people.
public struct ConfirmationReport: Sendable, Hashable, Codable {
    /// The report format; changes with `Spec/REPORT.md`.
    public var format = "eventack-report/1"
    /// When the report was made (the reconciler's clock).
    public var generatedAt: UInt64
    /// Figures of every event ever emitted.
    public var overall: ConfirmationStats
    /// Runs per verdict: finished runs by their verdict, open runs as `pending` (or `failed` once they failed).
    public var runVerdicts: [String: UInt64]
    /// Live sessions and the most recent ended ones.
    public var sessions: [SessionReport]
    /// Open runs and the most recent finished ones (the configuration says how many are kept).
    public var runs: [RunReport]
    /// Sessions and runs left out because the report was capped (``Reconciler/report(now:principal:limit:)``).
    public var omitted: Omitted? = nil

    /// What a capped report left out.
    public struct Omitted: Sendable, Hashable, Codable {
        /// Sessions not listed.
        public var sessions: Int
        /// Runs not listed.
        public var runs: Int

        /// Creates a count.
        public init(sessions: Int, runs: Int) {
            self.sessions = sessions
            self.runs = runs
        }
    }

    /// Creates a report.
    public init(
        generatedAt: UInt64,
        overall: ConfirmationStats,
        runVerdicts: [String: UInt64],
        sessions: [SessionReport],
        runs: [RunReport]
    ) {
        self.generatedAt = generatedAt
        self.overall = overall
        self.runVerdicts = runVerdicts
        self.sessions = sessions
        self.runs = runs
    }

    /// Adds another report's figures (from another process, or another simulated seed).
    public mutating func merge(_ other: ConfirmationReport) {
        generatedAt = max(generatedAt, other.generatedAt)
        overall.merge(other.overall)
        runVerdicts.merge(other.runVerdicts, uniquingKeysWith: +)
        sessions += other.sessions
        runs += other.runs
    }
}

/// Everything known about one session.
public struct SessionReport: Sendable, Hashable, Codable {
    /// Where a session stands.
    public enum State: String, Sendable, Hashable, Codable {
        /// Live on a connection.
        case attached
        /// Waiting for a resume.
        case detached
        /// Not resumed in time.
        case expired
    }

    /// The session id.
    public var session: SessionID
    /// Its principal.
    public var principal: String
    /// Where it stands.
    public var state: State
    /// When it was opened.
    public var openedAt: UInt64
    /// Events retained (not yet confirmed at their level nor failed, or behind one that is not).
    public var retainedEvents: Int
    /// Runs still open.
    public var openRuns: Int
    /// Its figures.
    public var stats: ConfirmationStats
}

/// The reconciler's memory of what ended: overall figures and the most recent finished runs and sessions.
struct ReportBook: Sendable {
    var overall = ConfirmationStats()
    var runVerdicts: [RunVerdict: UInt64] = [:]
    private(set) var finishedRuns: [RunReport] = []
    private(set) var endedSessions: [SessionReport] = []

    mutating func runFinished(_ report: RunReport, keeping limit: Int) {
        runVerdicts[report.verdict, default: 0] += 1
        Self.append(report, to: &finishedRuns, keeping: limit)
    }

    mutating func sessionEnded(_ report: SessionReport, keeping limit: Int) {
        Self.append(report, to: &endedSessions, keeping: limit)
    }

    /// Appends, dropping the oldest half once past twice the limit (amortized O(1)).
    private static func append<T>(_ element: T, to list: inout [T], keeping limit: Int) {
        guard limit > 0 else { return }
        list.append(element)
        if list.count >= 2 * limit { list.removeFirst(list.count - limit) }
    }
}

extension Reconciler {
    /// The confirmation report now: overall figures, every live session and open run, and the most recent ended
    /// ones.
    ///
    /// - Parameters:
    ///   - now: the time the report is made at.
    ///   - principal: only this principal's sessions and runs, with figures summed over the sessions listed — what
    ///     one user may see of the report. `nil` for everything (an operator's view).
    ///   - limit: the most sessions and the most runs listed (the newest are kept; ``ConfirmationReport/omitted``
    ///     counts the rest), so that the report's size is bounded whatever the peers do. `nil` lists all.
    public func report(now: UInt64, principal: String? = nil, limit: Int? = nil) -> ConfirmationReport {
        var verdicts: [String: UInt64] = [:]
        if principal == nil { for (verdict, count) in context.book.runVerdicts { verdicts[verdict.rawValue] = count } }
        func visible(_ owner: String) -> Bool { principal == nil || principal == owner }
        var runs = context.book.finishedRuns.suffix(configuration.retainedRunReports).filter { visible($0.principal) }
        var sessionReports = context.book.endedSessions.suffix(configuration.retainedSessionReports).filter {
            visible($0.principal)
        }
        if principal != nil { for run in runs { verdicts[run.verdict.rawValue, default: 0] += 1 } }
        for key in sessions.keys.sorted() {
            let session = sessions[key]!
            guard visible(session.principal) else { continue }
            sessionReports.append(
                session.report(state: session.connection == nil ? .detached : .attached))
            for tracker in session.runs.compactMap({ $0 }) {
                let report = tracker.report(session: session.id, principal: session.principal)
                verdicts[report.verdict.rawValue, default: 0] += 1
                runs.append(report)
            }
        }
        var overall = context.book.overall
        if principal != nil {
            overall = ConfirmationStats()
            for session in sessionReports { overall.merge(session.stats) }
        }
        var report = ConfirmationReport(
            generatedAt: now, overall: overall, runVerdicts: verdicts, sessions: sessionReports, runs: runs)
        if let limit, sessionReports.count > limit || runs.count > limit {
            report.omitted = .init(
                sessions: max(0, sessionReports.count - limit), runs: max(0, runs.count - limit))
            report.sessions = Array(sessionReports.suffix(limit))
            report.runs = Array(runs.suffix(limit))
        }
        return report
    }

    /// The figures over every session, live ones included: what the report's ``ConfirmationReport/overall`` says for
    /// the operator, kept incrementally, so reading it costs a copy of one small struct.
    public var overallStats: ConfirmationStats { context.book.overall }

    /// The report of `run` in `sessionID` as it stands: from the session's live tracker while the run goes on, else
    /// from the finished runs kept for reports. `nil` when neither knows it (an unknown session, a run never emitted
    /// there, or one whose report was dropped from the bounded list).
    public func runReport(_ run: String, in sessionID: SessionID) -> RunReport? {
        if let key = sessionKeys[sessionID], let session = sessions[key], let index = session.runIndexByID[run],
            let tracker = session.runs[Int(index)]
        {
            return tracker.report(session: sessionID, principal: session.principal)
        }
        return context.book.finishedRuns.last { $0.run == run && $0.session == sessionID }
    }
}
