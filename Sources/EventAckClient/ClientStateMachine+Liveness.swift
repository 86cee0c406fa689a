import EventAckProtocol

/// Idle deadlines of runs (EA-LIVE-2): any event or `progress` of a run extends its deadline.
struct RunLiveness: Sendable {
    struct Run: Sendable {
        var lastActivity: UInt64
        var deadline: UInt64
        var stalled: Bool
    }

    var runs: [String: Run] = [:]

    mutating func activity(run name: String, now: UInt64, timeoutMs: UInt64) -> [ClientAction] {
        let wasStalled = runs[name]?.stalled ?? false
        runs[name] = Run(lastActivity: now, deadline: now + timeoutMs, stalled: false)
        return wasStalled ? [.signal(.runResumed(run: name))] : []
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
    /// When the machine next needs ``timerFired(now:)``: the coalesced ack, a run's idle deadline, the idle ping
    /// or the dead-connection deadline, whichever comes first.
    public var nextDeadline: UInt64? {
        var candidates: [UInt64] = []
        if let due = delivery.ackDue { candidates.append(due) }
        if let runDeadline = runs.nextDeadline { candidates.append(runDeadline) }
        switch connection {
        case .connected(let link):
            candidates.append(link.lastSentAt + link.heartbeatMs)
            candidates.append(link.lastReceivedAt + 2 * link.heartbeatMs)
            if let since = confirmations.awaitingEchoSince {
                candidates.append(since + configuration.confirmationResendMs)
            }
        case .handshaking(let since):
            candidates.append(since + configuration.handshakeTimeoutMs)
        case .disconnected, .closed:
            break
        }
        return candidates.min()
    }

    /// Time passed: send the due ack, re-send confirmations whose echo is overdue (EA-SYNC-4), report stalled runs,
    /// ping when idle, detect a dead connection (EA-LIVE-4) or a handshake that never completes (EA-HS-4).
    public mutating func timerFired(now: UInt64) -> [ClientAction] {
        var actions: [ClientAction] = []
        if let due = delivery.ackDue, due <= now { actions += flushAck(now: now) }
        if isConnected, let since = confirmations.awaitingEchoSince, now >= since + configuration.confirmationResendMs {
            // Cleared first: the flush arms it again only if something is still unechoed or a hole is still open.
            confirmations.awaitingEchoSince = nil
            actions += flushAck(now: now, force: true)
        }
        actions += runs.expire(now: now)
        if case .handshaking(let since) = connection, now >= since + configuration.handshakeTimeoutMs {
            connection = .disconnected
            return actions + [
                .signal(.connectionDead(silentMs: now - since)),
                .closeConnection(reason: "no welcome within \(configuration.handshakeTimeoutMs) ms"),
            ]
        }
        guard case .connected(let link) = connection else { return actions }
        let silence = now - min(now, link.lastReceivedAt)
        if silence >= 2 * link.heartbeatMs {
            connection = .disconnected
            delivery.ackDue = nil
            return actions + [
                .signal(.connectionDead(silentMs: silence)), .closeConnection(reason: "no frame for \(silence) ms"),
            ]
        }
        if now >= link.lastSentAt + link.heartbeatMs {
            let id = nextPingID
            nextPingID += 1
            actions += sent(.ping(id: id), now: now)
        }
        return actions
    }
}
