import EventAckClient
import EventAckReconciler

/// What a simulation runs: how many clients, how many agent runs each, how the users behave, and the machines'
/// configurations.
///
/// Users are drawn per event: most confirm display and value after a random delay, some never do (the event then
/// fails with `display_timeout` or `value_timeout`), some reject (a `nack`, failing it with the nack's reason).
public struct SimulationScenario: Sendable {
    /// Client sessions, each its own simulated process.
    public var sessions: Int
    /// Principals the sessions belong to (session `i` belongs to `user_(i % users)`), so that one user has several
    /// sessions and isolation is between sessions as well as users.
    public var users: Int
    /// Agent runs requested by each session, started at random times in the first ``runSpreadMs``.
    public var runsPerSession: Int
    /// When the runs of a session start, relative to its first connection.
    public var runSpreadMs: ClosedRange<UInt64>
    /// The time between two events of a run.
    public var agentStepMs: ClosedRange<UInt64>
    /// A run is a 40-second "complex analysis", silent but for `progress` every 5 s.
    public var longRunProbability: Double
    /// A run ends with `agent_failed` instead of `agent_completed`.
    public var failedRunProbability: Double
    /// An event that asks for display or value is never confirmed by its user.
    public var neverConfirmProbability: Double
    /// An event that asks for display or value is rejected by its user.
    public var rejectProbability: Double
    /// From delivery to `markDisplayed`.
    public var displayDelayMs: ClosedRange<UInt64>
    /// From display to `confirmValue`.
    public var valueDelayMs: ClosedRange<UInt64>
    /// The reconciler's configuration. The default gives value a deadline (30 s overdue, 60 s failed), so that
    /// every event ends confirmed or failed.
    public var reconciler: ReconcilerConfiguration
    /// Every client's configuration.
    public var client: ClientConfiguration
    /// How clients reconnect.
    public var reconnect: ReconnectPolicy
    /// Virtual time after which the simulation stops even if events are unsettled (they are then violations).
    public var limitMs: UInt64

    /// Creates a scenario; the defaults make a few hundred events with every confirmation path.
    public init(
        sessions: Int = 8,
        users: Int = 3,
        runsPerSession: Int = 3,
        runSpreadMs: ClosedRange<UInt64> = 0...20_000,
        agentStepMs: ClosedRange<UInt64> = 20...1_500,
        longRunProbability: Double = 0.1,
        failedRunProbability: Double = 0.05,
        neverConfirmProbability: Double = 0.02,
        rejectProbability: Double = 0.02,
        displayDelayMs: ClosedRange<UInt64> = 10...2_000,
        valueDelayMs: ClosedRange<UInt64> = 200...15_000,
        reconciler: ReconcilerConfiguration = Self.defaultReconciler,
        client: ClientConfiguration = ClientConfiguration(),
        reconnect: ReconnectPolicy = ReconnectPolicy(baseMs: 100, capMs: 5_000),
        limitMs: UInt64 = 3_600_000
    ) {
        self.sessions = max(1, sessions)
        self.users = max(1, users)
        self.runsPerSession = max(0, runsPerSession)
        self.runSpreadMs = runSpreadMs
        self.agentStepMs = agentStepMs
        self.longRunProbability = longRunProbability
        self.failedRunProbability = failedRunProbability
        self.neverConfirmProbability = neverConfirmProbability
        self.rejectProbability = rejectProbability
        self.displayDelayMs = displayDelayMs
        self.valueDelayMs = valueDelayMs
        self.reconciler = reconciler
        self.client = client
        self.reconnect = reconnect
        self.limitMs = limitMs
    }

    /// The reconciler defaults plus a value deadline (30 s overdue, 60 s failed).
    public static var defaultReconciler: ReconcilerConfiguration {
        var configuration = ReconcilerConfiguration()
        configuration.valueDeadline = LevelDeadline(overdueAfterMs: 30_000, failAfterMs: 60_000)
        return configuration
    }
}
