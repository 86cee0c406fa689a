import EventAckClient
import EventAckProtocol
import EventAckReconciler

/// A deterministic world of one `Reconciler` and many `ClientStateMachine`s joined by a faulty simulated
/// network, driven to quiescence on virtual time. The faults are in `+Network` (frames, cuts, restarts, storms) and
/// `+Hostile` (a misbehaving peer and server `bye`s).
///
/// Everything random (faults, agent runs, user behaviour, the reconciler's ids and jitter) is drawn from `seed`, and
/// time only moves when nothing is left to do before the next deadline, as quinn-proto's test `Pair` does. The
/// same seed, scenario and faults therefore replay exactly: `eventack simulate --seed N …` reproduces any run.
///
/// ```swift
/// var simulation = Simulation(seed: 42, faults: .mixed)
/// let result = simulation.run()
/// assert(result.violations.isEmpty, result.replayCommand(sessions: 8, runs: 3))
/// ```
public struct Simulation: Sendable {
    /// Virtual time starts at a plausible Unix time so that `ts` members look real.
    public static let startMs: UInt64 = 1_763_712_000_000

    /// The seed everything is drawn from.
    public let seed: UInt64
    /// What runs.
    public let scenario: SimulationScenario
    /// What goes wrong.
    public let faults: FaultSettings

    var now = Simulation.startMs
    var server: Reconciler
    /// Where the server writes ahead when crashes are simulated: what outlives each server process.
    let store = InMemorySessionStore(node: "node")
    var serverTimerArmed: UInt64?
    /// How the server process names runs, as the AgentServer does: unique across its restarts (EA-RUN-1).
    var runIDs: RunIDGenerator
    /// The server's write-ahead queue while the store misbehaves (`+Store`).
    var writes = SimulatedWrites()
    var clients: [SimulatedClient]
    var links: [UInt64: SimulatedLink] = [:]
    var linkOfConnection: [ConnectionID: UInt64] = [:]
    var nextLinkID: UInt64 = 1
    var runs: [SimulatedRun] = []
    var queue = SimulationQueue()
    var ledger = SimulationLedger()
    var counts = FaultCounts()
    /// Draws for the network's faults; apart from `behaviour` so that changing one fault does not reshuffle the
    /// agents and users.
    var network: SplitMix64
    /// Draws for agent runs, user intents and delays.
    var behaviour: SplitMix64
    /// Draws for where a client's inbound bursts end (it acks when drained, EA-DEL-3); apart from the others so
    /// that a seed's faults and behaviour stay what they were.
    var bursts: SplitMix64
    let codec = MessageCodec()
    /// Every frame and connection change with its virtual time, when asked for (``SimulationResult/trace``).
    var trace: [String]?

    /// Prepares a simulation; nothing happens until ``run()``.
    ///
    /// - Parameters:
    ///   - seed: everything random is drawn from it.
    ///   - scenario: sessions, runs, users and their behaviour, and the machines' configurations.
    ///   - faults: what goes wrong.
    ///   - tracing: keep a line for every frame and connection change, to read what happened to one seed.
    public init(
        seed: UInt64,
        scenario: SimulationScenario = SimulationScenario(),
        faults: FaultSettings = .none,
        tracing: Bool = false
    ) {
        self.seed = seed
        self.trace = tracing ? [] : nil
        self.scenario = scenario
        self.faults = faults
        var root = SplitMix64(seed: seed)
        server = Reconciler(
            configuration: scenario.reconciler, random: SplitMix64(seed: root.next()),
            writesAhead: faults.writesAhead)
        network = SplitMix64(seed: root.next())
        runIDs = RunIDGenerator(node: "node", boot: network.next())
        behaviour = SplitMix64(seed: root.next())
        bursts = SplitMix64(seed: root.next())
        clients = (0..<scenario.sessions).map { index in
            SimulatedClient(
                principal: "user_\(index % scenario.users)",
                machine: ClientStateMachine(configuration: scenario.client),
                runsToStart: scenario.runsPerSession)
        }
    }

    /// Runs the scenario until every run has ended and every event is confirmed or failed (or the scenario's time
    /// limit passes), then checks the invariants.
    public mutating func run() -> SimulationResult {
        for index in clients.indices {
            queue.schedule(.reconnect(client: index, generation: 0), at: now + behaviour.next(in: 0...200))
        }
        let limit = Simulation.startMs + scenario.limitMs
        var stepsAtThisTime = 0
        while let entry = queue.pop() {
            guard entry.time <= limit else { break }
            stepsAtThisTime = entry.time > now ? 0 : stepsAtThisTime + 1
            guard stepsAtThisTime < 1_000_000 else {
                // A machine that keeps asking for its timer without moving on would spin forever.
                ledger.violations.append("livelock: a million steps at virtual time \(now - Simulation.startMs) ms")
                break
            }
            now = max(now, entry.time)
            handle(entry.task, scheduledFor: entry.time)
            armTimers()
            if isQuiescent { break }
        }
        return finish()
    }

    /// Every agent run has ended, every emitted event is settled, and no client holds events above a hole.
    var isQuiescent: Bool {
        runs.count == scenario.sessions * scenario.runsPerSession && runs.allSatisfy(\.isDone)
            && ledger.emissions.allSatisfy { $0.outcome != nil }
            && ledger.runs.values.allSatisfy { $0.verdict != nil }
            && clients.allSatisfy { $0.machine.heldEventCount == 0 }
    }

    mutating func log(_ line: @autoclosure () -> String) {
        if trace != nil { trace!.append("\(now - Simulation.startMs) \(line())") }
    }

    mutating func handle(_ task: SimulationTask, scheduledFor time: UInt64) {
        switch task {
        case .frameToServer(let link, let text):
            guard let connection = links[link]?.connection else { return }
            log("link \(link) → server \(text)")
            perform(server.frameReceived(text, on: connection, now: now))
            serverFaults()
        case .frameToClient(let link, let text):
            frameArrived(text, over: link)
        case .cut(let link):
            cut(link, notifyServer: true, notifyClient: true)
        case .reconnect(let client, let generation):
            reconnect(client, generation: generation)
        case .clientTimer(let client, let generation):
            guard clients[client].generation == generation, clients[client].timerArmed == time else { return }
            clients[client].timerArmed = nil
            perform(clients[client].machine.timerFired(now: now), client: client)
        case .serverTimer:
            guard serverTimerArmed == time else { return }
            serverTimerArmed = nil
            perform(server.timerFired(now: now))
        case .agentStep(let run):
            agentStep(run)
        case .storeLoaded(let session):
            perform(server.sessionLoaded(session, records: store.loadNow(session), now: now))
        case .storeAttempt(let generation):
            guard generation == writes.generation else { return }
            attemptAppend()
        case .storeStallEnds(let generation):
            guard generation == writes.generation else { return }
            appendSucceeded()
        case .user(let client, let generation, let session, let seq, let action):
            userActs(action, seq: seq, session: session, client: client, generation: generation)
        }
    }

    /// Arms each machine's timer for its next deadline; an entry whose time no longer matches is ignored.
    mutating func armTimers() {
        if let deadline = server.nextDeadline, deadline != serverTimerArmed {
            serverTimerArmed = max(deadline, now)
            queue.schedule(.serverTimer, at: serverTimerArmed!)
        }
        for index in clients.indices {
            guard let deadline = clients[index].machine.nextDeadline else { continue }
            let due = max(deadline, now)
            if due != clients[index].timerArmed {
                clients[index].timerArmed = due
                queue.schedule(.clientTimer(client: index, generation: clients[index].generation), at: due)
            }
        }
    }

    // MARK: The reconciler's side

    mutating func perform(_ actions: [ReconcilerAction]) {
        if faults.storeFaults > 0 {
            // Write-ahead as ReconcilerService does it: behind an append under way, every input waits its turn.
            guard writes.isIdle, !Self.persists(actions) else {
                writes.waiting.append(actions)
                if writes.batch == nil { startAppend() }
                return
            }
        }
        performNow(actions)
    }

    /// Performs actions whose records (if any) are to be appended now, with no store fault.
    mutating func performNow(_ actions: [ReconcilerAction], appended: Bool = false) {
        var crashed = false
        for action in actions {
            switch action {
            case .persist(let records):
                if !appended {
                    _ = store.appendNow(records, commit: .random(using: &network))
                    auditStore(records)
                }
                // The records are durable; the process may die before any of what they back goes out. Reports
                // stay: what they say is in the store (the cross-node report reads it there). Not while later
                // inputs wait for the store: their records are not durable, and the agents that emitted them
                // would die with the process (here they live on).
                crashed = writes.waiting.isEmpty && network.chance(faults.serverCrash)
            case .load(let session):
                guard !crashed else { continue }
                queue.schedule(.storeLoaded(session: session), at: now + network.next(in: faults.delayMs))
            case .send where crashed, .close where crashed:
                continue
            case .send(let message, let connection):
                if case .event(let event) = message, event.attempt > 1 { ledger.retransmittedFrames += 1 }
                guard let link = linkOfConnection[connection] else { continue }
                transmit(codec.encode(message), over: link, toServer: false)
            case .close(let connection, _):
                // A close after a write delivers what was written first (a `bye`, a fatal error), as TCP does.
                guard let link = linkOfConnection[connection], let state = links[link] else { continue }
                queue.schedule(.cut(link: link), at: max(now, state.lastArrivalAtClient) + 1)
            case .report(let event):
                if case .failed = event { log("server reports \(event)") }
                ledger.record(event)
            }
        }
        if crashed { crashServer() }
    }
}

/// One simulated client process and its connection.
struct SimulatedClient: Sendable {
    let principal: String
    var machine: ClientStateMachine
    /// Bumped when the process restarts: anything scheduled for an earlier process is void.
    var generation: UInt64 = 0
    var link: UInt64?
    var timerArmed: UInt64?
    var reconnectAttempts = 0
    /// Runs to request once the client has a fresh session.
    var runsToStart: Int
    /// Connections still to cut right after their `hello` in a resume storm.
    var stormRemaining = 0
}

/// A connection between a client process and the reconciler.
struct SimulatedLink: Sendable {
    let client: Int
    let generation: UInt64
    let connection: ConnectionID
    /// The latest arrival scheduled in each direction: frames are first-in first-out unless reordered.
    var lastArrivalAtServer: UInt64 = 0
    var lastArrivalAtClient: UInt64 = 0
}

/// An agent run: its script, its session, how far it got.
struct SimulatedRun: Sendable {
    let client: Int
    /// The run's id, given by the server process alive when the run is requested (its first step).
    var name = ""
    let session: SessionID
    let steps: [AgentStep]
    var next = 0
    var abandoned = false

    var isDone: Bool { abandoned || next == steps.count }
}

/// How often each fault actually happened.
public struct FaultCounts: Sendable, Hashable {
    /// Frames lost.
    public var dropped = 0
    /// Frames sent twice.
    public var duplicated = 0
    /// Frames held back.
    public var reordered = 0
    /// Connections cut by the network.
    public var disconnects = 0
    /// Client processes restarted without memory.
    public var restarts = 0
    /// Client processes restarted from their snapshot.
    public var snapshotRestarts = 0
    /// Times the server said `bye` to everyone.
    public var serverByes = 0
    /// Resume storms started.
    public var resumeStorms = 0
    /// Hostile frames sent to the server.
    public var hostileFrames = 0
    /// Server processes that died and were replaced over the same store.
    public var serverCrashes = 0
    /// Appends to the store that failed with nothing written.
    public var storeFailures = 0
    /// Appends that were written but reported failure (outcome unknown to the server).
    public var storeAmbiguous = 0
    /// Appends that stalled.
    public var storeStalls = 0
    /// Store restarts.
    public var storeRestarts = 0

    /// Nothing happened yet.
    public init() {}

    /// Adds `other`'s counts.
    public mutating func add(_ other: FaultCounts) {
        dropped += other.dropped
        duplicated += other.duplicated
        reordered += other.reordered
        disconnects += other.disconnects
        restarts += other.restarts
        snapshotRestarts += other.snapshotRestarts
        serverByes += other.serverByes
        resumeStorms += other.resumeStorms
        hostileFrames += other.hostileFrames
        serverCrashes += other.serverCrashes
        storeFailures += other.storeFailures
        storeAmbiguous += other.storeAmbiguous
        storeStalls += other.storeStalls
        storeRestarts += other.storeRestarts
    }
}
