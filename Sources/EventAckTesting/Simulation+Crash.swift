import EventAckProtocol
import EventAckReconciler

/// A server crash: the process dies with everything in its memory, and another takes over from the store.
extension Simulation {
    /// Every connection dies with the process (the clients notice; the dead server is told nothing). A new
    /// reconciler — another node, or the same one restarted — is built over the same store and recovers every
    /// session the dead one owned, as a node does when it starts; the clients reconnect and resume there, and the
    /// agents carry on emitting to their sessions.
    mutating func crashServer() {
        counts.serverCrashes += 1
        log("server crashes")
        for linkID in links.keys.sorted() { cut(linkID, notifyServer: false, notifyClient: true) }
        linkOfConnection = [:]
        // What waited for the store dies with the process; nothing of it was sent.
        writes = SimulatedWrites(storeDownUntil: writes.storeDownUntil, generation: writes.generation + 1)
        // A new process names its runs afresh, as the AgentServer does: a new boot nonce (EA-RUN-1).
        runIDs = RunIDGenerator(node: "node", boot: network.next())
        server = Reconciler(
            configuration: scenario.reconciler, random: SplitMix64(seed: network.next()), writesAhead: true)
        serverTimerArmed = nil
        for session in store.storage.sessions(ownedBy: store.node) {
            perform(server.sessionLoaded(session, records: store.loadNow(session), now: now))
        }
    }
}
