import EventAckProtocol

/// What a session's rules reach outside the session itself: the configuration, the connections' send times, the
/// one timer heap, the report book, the jitter, and the actions and records of the input being processed.
///
/// The ``Reconciler`` owns it and lends it to one ``SessionMachine`` at a time (`inout`), so that a session's rules
/// can send, report, record and arm timers without reaching into the sessions table — and so cannot touch another
/// session (EA-ISO-1).
struct SessionContext: Sendable {
    /// A connection, before and after its handshake.
    struct Connection: Sendable {
        let principal: String
        let openedAt: UInt64
        /// The session's key, once `hello` was answered.
        var session: UInt64?
        var lastReceivedAt: UInt64
        var lastSentAt: UInt64
        /// The connection's pending timer (heartbeat or liveness).
        var timerDeadline: UInt64 = 0
        var nextPingID: UInt64 = 1
        /// A `hello` waiting for its session to be loaded from the store.
        var loading: Hello?
        /// Whether the store was asked for this connection's resume already (once is enough).
        var loadedFromStore = false
    }

    let configuration: ReconcilerConfiguration
    /// Retransmission jitter needs no secrecy, only spread: a SplitMix64 seeded once from the reconciler's
    /// generator, so that each send does not cost a call into the (possibly system) generator.
    var jitter: SplitMix64
    var connections: [ConnectionID: Connection] = [:]
    var timers = TimerHeap()
    var book = ReportBook()
    /// Whether sessions are written ahead to a store (``ReconcilerAction/persist(_:)``).
    let writesAhead: Bool
    /// While a session is rebuilt from its records: nothing is recorded again, and nothing said.
    var isRestoring = false
    /// Actions of the input being processed, returned when it ends.
    var actions: [ReconcilerAction] = []
    /// Records of the input being processed, persisted before its actions.
    var records: [SessionRecord] = []

    init(configuration: ReconcilerConfiguration, jitter: SplitMix64, writesAhead: Bool) {
        self.configuration = configuration
        self.jitter = jitter
        self.writesAhead = writesAhead
    }

    mutating func send(_ message: Message, on connection: ConnectionID, now: UInt64) {
        connections[connection]?.lastSentAt = now
        actions.append(.send(message, to: connection))
    }

    mutating func report(_ event: ReconciliationEvent) {
        actions.append(.report(event))
    }

    /// Answers a frame with an `error` and reports it (EA-MSG-11). A non-fatal one leaves the connection open;
    /// closing it after a fatal one is the reconciler's (``Reconciler/rejectFrame(_:on:fatal:now:)``).
    mutating func reject(
        _ error: EventAckError, on connection: ConnectionID, session: SessionID?, fatal: Bool = false, now: UInt64
    ) {
        send(.error(ErrorMessage(error, fatal: fatal)), on: connection, now: now)
        report(.protocolError(connection, session: session, error: error, fatal: fatal))
    }

    /// Notes a change for the store; the input's actions put it before every other action.
    mutating func record(_ session: SessionID, _ change: SessionRecord.Change) {
        guard writesAhead, !isRestoring else { return }
        records.append(SessionRecord(session: session, change: change))
    }

    /// One scheduled timer entry went stale. The purge waits for the end of the input: while a session is out of
    /// the table for an input, its entries would look stale.
    mutating func invalidateTimer() {
        timers.noteStale()
    }

    /// Hands over the input's actions, its records first: nothing they back may reach a peer before they are
    /// durable (write-ahead).
    mutating func takeActions() -> [ReconcilerAction] {
        if !records.isEmpty {
            // In place: a new array of the two would cost an allocation and a copy of every action, per input.
            actions.insert(.persist(records), at: 0)
            records = []
        }
        defer { actions = [] }
        return actions
    }
}
