import EventAckProtocol
import EventAckReconciler

/// The server's write-ahead queue while the store misbehaves: what `ReconcilerService.flush()` does, on virtual
/// time — one batch appended at a time, retried under the same ``CommitID`` until it is known to be durable,
/// later inputs waiting behind it in order.
struct SimulatedWrites: Sendable {
    /// Inputs' actions waiting for the batch under way.
    var waiting: [[ReconcilerAction]] = []
    /// The batch being appended: its records, its inputs' actions and the id every attempt carries.
    var batch: (records: [SessionRecord], actions: [[ReconcilerAction]], commit: CommitID)?
    var retryMs: UInt64 = 10
    /// The store is down until then (a restart).
    var storeDownUntil: UInt64 = 0
    /// Bumped when the server process dies: its scheduled attempts are void.
    var generation: UInt64 = 0

    var isIdle: Bool { batch == nil && waiting.isEmpty }
}

extension Simulation {
    static func persists(_ actions: [ReconcilerAction]) -> Bool {
        if case .persist? = actions.first { return true }
        return false
    }

    /// Takes every waiting input into one batch (group commit) and appends it.
    mutating func startAppend() {
        guard writes.batch == nil, !writes.waiting.isEmpty else { return }
        var records: [SessionRecord] = []
        for actions in writes.waiting {
            if case .persist(let persisted)? = actions.first { records += persisted }
        }
        writes.batch = (records, writes.waiting, CommitID.random(using: &network))
        writes.waiting = []
        writes.retryMs = 10
        attemptAppend()
    }

    /// One attempt at the batch under way; a fault draws how it goes wrong.
    mutating func attemptAppend() {
        guard let batch = writes.batch else { return }
        if now < writes.storeDownUntil {
            counts.storeFailures += 1
            return retryAppend()
        }
        guard !batch.records.isEmpty, network.chance(faults.storeFaults) else { return appendSucceeded() }
        switch network.next(in: 0...3) {
        case 0:
            counts.storeFailures += 1
            log("store: commit failed")
            retryAppend()
        case 1:
            // Written, but the answer is lost: the server cannot tell this from a failure (EA-DUR-7).
            counts.storeAmbiguous += 1
            log("store: commit succeeded, reported failed")
            apply(batch)
            retryAppend()
        case 2:
            counts.storeStalls += 1
            log("store: commit stalls")
            queue.schedule(.storeStallEnds(generation: writes.generation), at: now + network.next(in: 500...5_000))
        default:
            counts.storeRestarts += 1
            writes.storeDownUntil = now + network.next(in: 1_000...5_000)
            let downUntil = writes.storeDownUntil - Simulation.startMs
            log("store restarts, down until \(downUntil)")
            // The commit under way when it went down may or may not have made it.
            if network.chance(0.5) { apply(batch) }
            retryAppend()
        }
    }

    /// Tries the same batch again later, with the service's backoff.
    private mutating func retryAppend() {
        queue.schedule(.storeAttempt(generation: writes.generation), at: now + writes.retryMs)
        writes.retryMs = min(writes.retryMs * 2, 1_000)
    }

    /// The store acknowledged the batch: the server acts on it, then appends what waited meanwhile.
    mutating func appendSucceeded() {
        guard let batch = writes.batch else { return }
        let fenced = apply(batch)
        writes.batch = nil
        let generation = writes.generation
        if !fenced.isEmpty { performNow(server.sessionsLost(fenced, now: now)) }
        for actions in batch.actions {
            if writes.generation != generation {
                // The process died after the write: nothing more goes out, but what the reports say is durable.
                for case .report(let event) in actions { ledger.record(event) }
                continue
            }
            performNow(actions, appended: true)
        }
        if writes.generation == generation { startAppend() }
    }

    /// Appends the batch (a retry of a commit that was made is answered without writing again) and audits what the
    /// store now holds.
    @discardableResult
    private mutating func apply(
        _ batch: (records: [SessionRecord], actions: [[ReconcilerAction]], commit: CommitID)
    ) -> Set<SessionID> {
        let fenced = store.appendNow(batch.records, commit: batch.commit)
        auditStore(batch.records)
        return fenced
    }

    /// Invariant: each emit appears at most once in its session's records (by its emission id), under one seq.
    mutating func auditStore(_ records: [SessionRecord]) {
        guard faults.writesAhead else { return }
        var sessions: [SessionID] = []
        for record in records where !sessions.contains(record.session) { sessions.append(record.session) }
        for session in sessions {
            guard let stored = InMemorySessionStore(storage: store.storage, node: "auditor").loadNow(session) else {
                continue
            }
            var seenEids: [String: Seq] = [:]
            var seenSeqs: Set<Seq> = []
            for record in stored {
                guard case .emitted(let seq, _, _, _, _, _, let payload, _) = record.change else { continue }
                var eid = "?"
                if case .number(let number)? = payload[member: "eid"] { eid = number }
                // Each duplicate is reported once, not again at every later audit of its session.
                if let earlier = seenEids[eid], ledger.reportedDuplicates.insert("\(session)/\(eid)").inserted {
                    ledger.violations.append(
                        "store: emit \(eid) recorded twice in session \(session) (seq \(earlier), then seq \(seq))")
                }
                if !seenSeqs.insert(seq).inserted, ledger.reportedDuplicates.insert("\(session)#\(seq)").inserted {
                    ledger.violations.append("store: seq \(seq) of session \(session) recorded twice")
                }
                seenEids[eid] = seq
            }
        }
    }
}
