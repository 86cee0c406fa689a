/// What the simulated network and clients do wrong, each with its own probability, all drawn from the
/// simulation's seed.
///
/// Probabilities are per frame: each frame handed to the network may be dropped, duplicated, held back so that
/// later frames overtake it, and may cut its connection after it; each frame a client receives may restart the
/// client process (it loses its memory, so its session can only expire), restart it from its saved snapshot, or
/// start a resume storm; each frame the server receives may make it say `bye` to everyone (a graceful restart) or
/// let a hostile peer in. Delays apply to every frame.
public struct FaultSettings: Sendable, Hashable, CustomStringConvertible {
    /// A frame is lost.
    public var drop: Double
    /// A frame arrives twice.
    public var duplicate: Double
    /// A frame is held back by up to twice the largest delay, so that later frames overtake it.
    public var reorder: Double
    /// The one-way delay of a frame, in milliseconds. Without `reorder`, a connection stays first-in first-out.
    public var delayMs: ClosedRange<UInt64>
    /// The connection is cut after a frame.
    public var disconnect: Double
    /// The receiving client restarts after a frame: a new process with a fresh machine and no session.
    public var clientRestart: Double
    /// The receiving client's process dies after a frame and restarts from the snapshot it saved write-ahead
    /// (`ClientStateMachine.Snapshot`): the session resumes, nothing is delivered twice.
    public var snapshotRestart: Double
    /// After a frame the server receives, it says `bye` to every connection and closes them (a graceful restart
    /// that keeps its state); every client reconnects and resumes (EA-BYE-3).
    public var serverBye: Double
    /// After a frame, the receiving client starts a resume storm: 20 connections in a row, each cut soon after its
    /// `hello` (EA-RTX-4 must still bound every event's attempts).
    public var resumeStorm: Double
    /// After a frame the server receives, a hostile peer (another authenticated user) connects and sends a burst of
    /// forged, malformed and wrong-direction frames; no other session may notice.
    public var hostile: Double
    /// After a record is written to the store, the server process dies before acting on it: every connection is
    /// cut, and a new reconciler (another node, or the same one restarted) is built over the same
    /// `InMemorySessionStore`, recovers its sessions from it, and the clients resume there. A value above 0 makes
    /// the simulated server write ahead (§ 15).
    public var serverCrash: Double
    /// For each append to the store, the probability that it goes wrong, in one of four ways drawn alike: the commit
    /// fails (nothing written); it succeeds but reports failure (the outcome is unknown to the server, EA-DUR-7); it
    /// stalls for 0.5–5 s; or the store restarts and is down for 1–5 s, every append failing until it is back. The
    /// server waits and retries the same batch as `ReconcilerService` does, sending nothing that depends on it. A
    /// value above 0 makes the simulated server write ahead (§ 15).
    public var storeFaults: Double

    /// Creates settings; every probability is clamped to 0…1.
    public init(
        drop: Double = 0,
        duplicate: Double = 0,
        reorder: Double = 0,
        delayMs: ClosedRange<UInt64> = 1...5,
        disconnect: Double = 0,
        clientRestart: Double = 0,
        snapshotRestart: Double = 0,
        serverBye: Double = 0,
        resumeStorm: Double = 0,
        hostile: Double = 0,
        serverCrash: Double = 0,
        storeFaults: Double = 0
    ) {
        func clamp(_ value: Double) -> Double { value.isNaN ? 0 : min(1, max(0, value)) }
        self.drop = clamp(drop)
        self.duplicate = clamp(duplicate)
        self.reorder = clamp(reorder)
        self.delayMs = delayMs
        self.disconnect = clamp(disconnect)
        self.clientRestart = clamp(clientRestart)
        self.snapshotRestart = clamp(snapshotRestart)
        self.serverBye = clamp(serverBye)
        self.resumeStorm = clamp(resumeStorm)
        self.hostile = clamp(hostile)
        self.serverCrash = clamp(serverCrash)
        self.storeFaults = clamp(storeFaults)
    }

    /// Whether the simulated server writes ahead to a store.
    public var writesAhead: Bool { serverCrash > 0 || storeFaults > 0 }

    /// A perfect network: short first-in first-out delays, nothing lost.
    public static let none = FaultSettings()

    /// Every fault at a rate that makes each one happen many times per scenario: what CI runs.
    public static let mixed = FaultSettings(
        drop: 0.02, duplicate: 0.02, reorder: 0.02, delayMs: 1...40, disconnect: 0.004, clientRestart: 0.001,
        snapshotRestart: 0.002, serverBye: 0.0005, resumeStorm: 0.0005, hostile: 0.002)

    /// Whether any frame can be lost, doubled, reordered or cut, any client restarted, or any peer misbehave.
    public var hasFaults: Bool {
        drop > 0 || duplicate > 0 || reorder > 0 || disconnect > 0 || clientRestart > 0 || snapshotRestart > 0
            || serverBye > 0 || resumeStorm > 0 || hostile > 0 || serverCrash > 0
            || storeFaults > 0
    }

    /// The settings as `eventack simulate` options, to replay a run exactly.
    public var description: String {
        "--drop \(drop) --duplicate \(duplicate) --reorder \(reorder) --delay-ms \(delayMs.lowerBound)..\(delayMs.upperBound)"
            + " --disconnect \(disconnect) --client-restart \(clientRestart) --snapshot-restart \(snapshotRestart)"
            + " --server-bye \(serverBye) --resume-storm \(resumeStorm) --hostile \(hostile)"
            + " --server-crash \(serverCrash) --store-faults \(storeFaults)"
    }
}
