import EventAckClient
import EventAckProtocol
import EventAckReconciler

/// The network: delays, drops, duplicates, reordering and cuts, and the client processes' connections and
/// restarts.
extension Simulation {
    /// Hands a frame to the network, which may lose, double or hold it back, and may cut the link after it.
    mutating func transmit(_ text: String, over linkID: UInt64, toServer: Bool) {
        guard var link = links[linkID] else { return }
        if network.chance(faults.drop) {
            counts.dropped += 1
            log("link \(linkID) drops \(text)")
        } else {
            var arrival = now + network.next(in: faults.delayMs)
            if network.chance(faults.reorder) {
                counts.reordered += 1
                arrival += network.next(in: 1...(2 * faults.delayMs.upperBound + 1))
            } else if toServer {
                arrival = max(arrival, link.lastArrivalAtServer)
                link.lastArrivalAtServer = arrival
            } else {
                arrival = max(arrival, link.lastArrivalAtClient)
                link.lastArrivalAtClient = arrival
            }
            let task: SimulationTask =
                toServer ? .frameToServer(link: linkID, text: text) : .frameToClient(link: linkID, text: text)
            queue.schedule(task, at: arrival)
            if network.chance(faults.duplicate) {
                counts.duplicated += 1
                queue.schedule(task, at: arrival + network.next(in: faults.delayMs))
            }
        }
        links[linkID] = link
        if network.chance(faults.disconnect) {
            counts.disconnects += 1
            queue.schedule(.cut(link: linkID), at: now + network.next(in: faults.delayMs))
        }
    }

    /// A frame reaches a client process; it may restart right after.
    mutating func frameArrived(_ text: String, over linkID: UInt64) {
        guard let link = links[linkID], clients[link.client].generation == link.generation else { return }
        let index = link.client
        log("link \(linkID) → client \(index) \(text)")
        if clients[index].machine.isConnected, let session = clients[index].machine.sessionID,
            case .event(let event)? = try? codec.decode(text)
        {
            ledger.received(seq: event.seq, eid: Self.emissionID(of: event), session: session)
        }
        perform(clients[index].machine.frameReceived(text, now: now), client: index)
        // The real client tells its machine when nothing more is queued (`inboundDrained`, which acks the burst):
        // here a burst ends after a frame with probability ½, so that both drained and timer acks are exercised.
        if bursts.chance(0.5) { perform(clients[index].machine.inboundDrained(now: now), client: index) }
        if network.chance(faults.clientRestart) {
            restart(index)
        } else if network.chance(faults.snapshotRestart) {
            restartFromSnapshot(index)
        } else if network.chance(faults.resumeStorm), clients[index].stormRemaining == 0 {
            counts.resumeStorms += 1
            log("client \(index) starts a resume storm")
            clients[index].stormRemaining = 20
            if let link = clients[index].link { cut(link, notifyServer: true, notifyClient: true) }
        }
    }

    /// Ends a link. Frames still in flight on it are lost; each end that did not close it itself is told.
    mutating func cut(_ linkID: UInt64, notifyServer: Bool, notifyClient: Bool) {
        guard let link = links.removeValue(forKey: linkID) else { return }
        log("link \(linkID) of client \(link.client) cut")
        linkOfConnection[link.connection] = nil
        if notifyServer { perform(server.connectionClosed(link.connection, now: now)) }
        guard clients[link.client].generation == link.generation else { return }
        clients[link.client].link = nil
        if notifyClient {
            perform(clients[link.client].machine.connectionClosed(now: now, reason: "cut"), client: link.client)
        }
        scheduleReconnect(link.client)
    }

    mutating func scheduleReconnect(_ index: Int) {
        guard clients[index].stormRemaining == 0 else {
            // A storm reconnects at once, whatever the backoff says.
            queue.schedule(
                .reconnect(client: index, generation: clients[index].generation), at: now + network.next(in: 0...2))
            return
        }
        let delay = scenario.reconnect.delayMs(attempt: clients[index].reconnectAttempts, random: behaviour.next())
        clients[index].reconnectAttempts += 1
        queue.schedule(.reconnect(client: index, generation: clients[index].generation), at: now + delay)
    }

    /// The client process opens a connection; the host authenticates it as the client's principal.
    mutating func reconnect(_ index: Int, generation: UInt64) {
        guard clients[index].generation == generation, clients[index].link == nil else { return }
        let connection = server.open(principal: clients[index].principal, now: now)
        let linkID = nextLinkID
        nextLinkID += 1
        links[linkID] = SimulatedLink(client: index, generation: generation, connection: connection)
        linkOfConnection[connection] = linkID
        clients[index].link = linkID
        log("link \(linkID) opened by client \(index)")
        perform(clients[index].machine.connected(now: now), client: index)
        if clients[index].stormRemaining > 0 {
            // Cut before or after the welcome can arrive: some resumes complete, some do not.
            clients[index].stormRemaining -= 1
            if let session = clients[index].machine.sessionID { ledger.stormedSessions.insert(session) }
            queue.schedule(.cut(link: linkID), at: now + network.next(in: 1...(3 * faults.delayMs.upperBound + 1)))
        }
    }

    /// The process dies and starts again from the snapshot it saved before its last actions (write-ahead): the same
    /// session, nothing delivered twice, and the user carries on with what is still outstanding.
    mutating func restartFromSnapshot(_ index: Int) {
        guard let snapshot = clients[index].machine.snapshot else { return restart(index) }
        counts.snapshotRestarts += 1
        log("client \(index) restarts from its snapshot")
        if let link = clients[index].link { cut(link, notifyServer: true, notifyClient: false) }
        clients[index].generation += 1
        clients[index].machine = ClientStateMachine(configuration: scenario.client, restoring: snapshot)
        clients[index].link = nil
        clients[index].timerArmed = nil
        clients[index].reconnectAttempts = 0
        clients[index].stormRemaining = 0
        // The app shows what still waits for the user again; the user acts on it as intended.
        for pending in clients[index].machine.outstanding() {
            guard let eid = ledger.emissionBySeq[SessionID(snapshot.session)]?[pending.seq] else { continue }
            scheduleUser(
                seq: pending.seq, eid: eid, session: snapshot.session, client: index, displayed: pending.displayed)
        }
        queue.schedule(
            .reconnect(client: index, generation: clients[index].generation), at: now + behaviour.next(in: 200...2_000))
    }

    /// The process dies and starts again with no memory: its session can only expire on the server.
    mutating func restart(_ index: Int) {
        counts.restarts += 1
        log("client \(index) restarts")
        if let session = clients[index].machine.sessionID { ledger.orphanedSessions.insert(session) }
        if let link = clients[index].link { cut(link, notifyServer: true, notifyClient: false) }
        clients[index].generation += 1
        clients[index].machine = ClientStateMachine(configuration: scenario.client)
        clients[index].stormRemaining = 0
        clients[index].link = nil
        clients[index].timerArmed = nil
        clients[index].reconnectAttempts = 0
        queue.schedule(
            .reconnect(client: index, generation: clients[index].generation), at: now + behaviour.next(in: 500...3_000))
    }

    /// The simulator's emission id, carried in every payload as `eid`.
    static func emissionID(of event: Event) -> Int? {
        guard case .number(let text)? = event.payload[member: "eid"] else { return nil }
        return Int(text)
    }
}
