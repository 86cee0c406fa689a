import EventAckProtocol

/// Idle deadlines of runs (EA-LIVE-2): any event or `progress` of a run extends its deadline. Run ids come from the
/// server, so at most ``maxRuns`` are followed: a server that opens runs without ever ending them cannot grow the
/// client without bound.
struct RunLiveness: Sendable {
    /// The most runs followed at once; beyond it the least recently active run is dropped, after being reported
    /// stalled if it was not already.
    static let maxRuns = 4096

    struct Run: Sendable {
        var lastActivity: UInt64
        var deadline: UInt64
        var stalled: Bool
    }

    var runs: [String: Run] = [:]
    /// Open runs of a restored snapshot: followed from the first connection on, when the machine knows the time.
    var restored: [String] = []

    mutating func activity(run name: String, now: UInt64, timeoutMs: UInt64) -> [ClientAction] {
        let active = Run(lastActivity: now, deadline: now + timeoutMs, stalled: false)
        // A run already followed — every event but a run's first — costs one lookup of its name, not three.
        if let index = runs.index(forKey: name) {
            let wasStalled = runs.values[index].stalled
            runs.values[index] = active
            return wasStalled ? [.signal(.runResumed(run: name))] : []
        }
        let actions = runs.count >= Self.maxRuns ? dropLeastRecentlyActive(now: now) : []
        runs[name] = active
        return actions
    }

    /// Runs seen without their end, in name order.
    var openRuns: [String] { Set(runs.keys).union(restored).sorted() }

    /// Starts following the runs of a restored snapshot.
    mutating func adoptRestored(now: UInt64, timeoutMs: UInt64) {
        for name in restored where runs[name] == nil {
            runs[name] = Run(lastActivity: now, deadline: now + timeoutMs, stalled: false)
        }
        restored = []
    }

    private mutating func dropLeastRecentlyActive(now: UInt64) -> [ClientAction] {
        guard let (name, run) = runs.min(by: { ($0.value.lastActivity, $0.key) < ($1.value.lastActivity, $1.key) })
        else { return [] }
        runs[name] = nil
        return run.stalled ? [] : [.signal(.runStalled(run: name, idleMs: now - min(now, run.lastActivity)))]
    }

    mutating func end(run name: String) {
        runs[name] = nil
    }

    /// Marks every run past its deadline as stalled, once, in name order.
    mutating func expire(now: UInt64) -> [ClientAction] {
        var actions: [ClientAction] = []
        for name in runs.keys.sorted() {
            guard var run = runs[name], !run.stalled, run.deadline <= now else { continue }
            run.stalled = true
            runs[name] = run
            actions.append(.signal(.runStalled(run: name, idleMs: now - run.lastActivity)))
        }
        return actions
    }

    var nextDeadline: UInt64? {
        runs.values.lazy.filter { !$0.stalled }.map(\.deadline).min()
    }
}

extension ClientStateMachine {
    /// When the machine next needs ``timerFired(now:)``: the coalesced ack, a run's idle deadline, the idle ping,
    /// the dead-connection deadline or the end of a close, whichever comes first. Deadlines of a live link count
    /// only while it is live.
    public var nextDeadline: UInt64? {
        if case .closed = connection { return nil }
        // A running minimum, not an array of candidates: this is asked after every input.
        var earliest = UInt64.max
        if let runDeadline = runs.nextDeadline { earliest = min(earliest, runDeadline) }
        if let closing { earliest = min(earliest, closing.deadline) }
        switch connection {
        case .connected(let link):
            if let due = delivery.ackDue { earliest = min(earliest, due) }
            earliest = min(earliest, link.lastSentAt + link.heartbeatMs, link.lastReceivedAt + 2 * link.heartbeatMs)
            if let since = confirmations.awaitingEchoSince {
                earliest = min(earliest, since + configuration.confirmationResendMs)
            }
        case .handshaking(let since):
            earliest = min(earliest, since + configuration.handshakeTimeoutMs)
        case .disconnected, .closed:
            break
        }
        return earliest == .max ? nil : earliest
    }

    /// Time passed: send the due ack, re-send confirmations whose echo is overdue (EA-SYNC-4), report stalled runs,
    /// ping when idle, detect a dead connection (EA-LIVE-4) or a handshake that never completes (EA-HS-4).
    public mutating func timerFired(now: UInt64) -> [ClientAction] {
        if case .closed = connection { return [] }
        var actions: [ClientAction] = []
        if isConnected, let due = delivery.ackDue, due <= now { actions += flushAck(now: now) }
        if isConnected, let since = confirmations.awaitingEchoSince, now >= since + configuration.confirmationResendMs {
            // Cleared first: the flush arms it again only if something is still unechoed or a hole is still open.
            confirmations.awaitingEchoSince = nil
            actions += flushAck(now: now, force: true)
        }
        actions += runs.expire(now: now)
        if case .handshaking(let since) = connection, now >= since + configuration.handshakeTimeoutMs {
            leaveConnection(to: .disconnected)
            return actions + [
                .signal(.connectionDead(silentMs: now - since)),
                .closeConnection(reason: "no welcome within \(configuration.handshakeTimeoutMs) ms"),
            ] + finishCloseIfDone(now: now)
        }
        guard case .connected(let link) = connection else { return actions + finishCloseIfDone(now: now) }
        let silence = now - min(now, link.lastReceivedAt)
        if silence >= 2 * link.heartbeatMs {
            leaveConnection(to: .disconnected)
            return actions + [
                .signal(.connectionDead(silentMs: silence)), .closeConnection(reason: "no frame for \(silence) ms"),
            ] + finishCloseIfDone(now: now)
        }
        if now >= link.lastSentAt + link.heartbeatMs {
            let id = nextPingID
            nextPingID += 1
            actions += sent(.ping(id: id), now: now)
        }
        return actions + finishCloseIfDone(now: now)
    }
}
