import EventAckClient
import EventAckProtocol
import EventAckReconciler

/// The client processes: what their machines ask for, and what their users do with delivered events.
extension Simulation {
    mutating func perform(_ actions: [ClientAction], client index: Int) {
        for action in actions {
            switch action {
            case .send(let message):
                guard let link = clients[index].link else { continue }
                transmit(codec.encode(message), over: link, toServer: true)
            case .deliver(let event):
                delivered(event, client: index)
            case .signal(let signal):
                signalled(signal, client: index)
            case .closeConnection:
                guard let link = clients[index].link else { continue }
                cut(link, notifyServer: true, notifyClient: false)
            case .closed:
                // Simulated apps never close their clients; a close is a machine that stopped on its own.
                ledger.violations.append("client \(index) closed without being asked to")
            }
        }
    }

    private mutating func signalled(_ signal: ClientSignal, client index: Int) {
        if case .eventsLost(let seqs) = signal, let session = clients[index].machine.sessionID {
            log("client \(index) skips lost seqs \(seqs) of \(session)")
            guard seqs.count <= ledger.emissions.count else {
                ledger.violations.append("session \(session) skipped \(seqs), more seqs than were ever emitted")
                return
            }
            ledger.skipped(Array(seqs), session: session)
        }
        guard case .connected(let session, let resumed) = signal else { return }
        clients[index].reconnectAttempts = 0
        guard !resumed, clients[index].runsToStart > 0 else { return }
        for _ in 0..<clients[index].runsToStart {
            let run = SimulatedRun(
                client: index, session: SessionID(session),
                steps: AgentScript.make(scenario: scenario, random: &behaviour))
            queue.schedule(.agentStep(run: runs.count), at: now + behaviour.next(in: scenario.runSpreadMs))
            runs.append(run)
        }
        clients[index].runsToStart = 0
    }

    /// The app got an event: check it, then let its user act as the emission's intent says.
    private mutating func delivered(_ event: Event, client index: Int) {
        guard let session = clients[index].machine.sessionID else {
            ledger.violations.append("a client delivered seq \(event.seq) without a session")
            return
        }
        let eid = Self.emissionID(of: event)
        log("client \(index) delivers seq \(event.seq) of \(session)")
        ledger.delivered(seq: event.seq, eid: eid, session: session)
        guard let eid, eid < ledger.emissions.count else { return }
        scheduleUser(seq: event.seq, eid: eid, session: session, client: index, displayed: false)
    }

    /// The user will act on `seq` as its emission's intent says: display it (then value it or reject its value), or
    /// reject its display. `displayed` skips the display a restored process already sent.
    mutating func scheduleUser(seq: Seq, eid: Int, session: String, client index: Int, displayed: Bool) {
        let generation = clients[index].generation
        func later(_ delay: ClosedRange<UInt64>, _ action: UserAction) {
            queue.schedule(
                .user(client: index, generation: generation, session: session, seq: seq, action: action),
                at: now + behaviour.next(in: delay))
        }
        switch ledger.emissions[eid].intent {
        case .none, .never: break
        case .confirm where displayed: later(scenario.valueDelayMs, .value)
        case .reject(.value) where displayed: later(scenario.valueDelayMs, .reject(level: .value))
        case .confirm: later(scenario.displayDelayMs, .display)
        case .reject(.value): later(scenario.displayDelayMs, .display)
        case .reject(let level): later(scenario.displayDelayMs, .reject(level: level))
        }
    }

    /// A user displays, values or rejects an event, if the process and session that delivered it still exist.
    mutating func userActs(_ action: UserAction, seq: Seq, session: String, client index: Int, generation: UInt64) {
        guard clients[index].generation == generation, clients[index].machine.sessionID == session else { return }
        log("user of client \(index) \(action) seq \(seq) in \(session)")
        do {
            switch action {
            case .display:
                perform(try clients[index].machine.markDisplayed(seq, now: now), client: index)
                ledger.displayed(seq: seq, session: session)
                guard let eid = ledger.emissionBySeq[SessionID(session)]?[seq] else { return }
                let emission = ledger.emissions[eid]
                guard emission.level == .value else { return }
                let next: UserAction = emission.intent == .confirm ? .value : .reject(level: .value)
                queue.schedule(
                    .user(client: index, generation: generation, session: session, seq: seq, action: next),
                    at: now + behaviour.next(in: scenario.valueDelayMs))
            case .value:
                perform(try clients[index].machine.confirmValue(seq, now: now), client: index)
                ledger.valued(seq: seq, session: session)
            case .reject(let level):
                let reason = UserIntent.rejectionReason(at: level)
                perform(try clients[index].machine.reject(seq, level: level, reason: reason, now: now), client: index)
            }
        } catch {
            ledger.violations.append(
                "session \(session): the client refused \(action) of delivered seq \(seq): \(error)")
        }
    }
}
