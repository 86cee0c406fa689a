@_spi(Shell) import EventAckProtocol

/// An EventAck client: connects through a ``ClientTransport``, delivers each event exactly once and in order on
/// ``events``, acknowledges receipt automatically, lets the app confirm display and value, reports everything that
/// goes wrong on ``signals``, and reconnects and resumes by itself.
///
/// ```swift
/// let client = EventAckClient(transport: myWebSocketTransport)
/// await client.start()
/// Task { for await signal in client.signals { log(signal) } }
/// for await delivery in client.events {
///     render(delivery.event)
///     try await delivery.markDisplayed()
/// }
/// ```
///
/// The actor is a thin shell over ``ClientStateMachine``: it feeds it frames and clock ticks and performs the
/// actions it returns. All protocol behaviour is in the machine.
public actor EventAckClient {
    /// Events for the app, each seq of the session once, in order, handed over a burst at a time; iterate from one
    /// task. Finishes, after everything delivered, when the client is closed.
    public nonisolated let events: DeliveryStream
    /// Connection changes, stalls and failures. Finishes when the client is closed.
    public nonisolated let signals: AsyncStream<ClientSignal>

    private let deliveries = BatchQueue<Delivery>()
    /// Deliveries of the burst of frames being processed, handed to ``events`` together when it ends: one wake-up
    /// of the app's task per burst, not per event.
    private var burstDeliveries: [Delivery] = []
    /// Whether a burst of frames is being processed (deliveries wait for its end).
    private var inBurst = false
    private let signalsContinuation: AsyncStream<ClientSignal>.Continuation
    private let transport: any ClientTransport
    private let clock: any EventAckClock
    private let reconnect: ReconnectPolicy
    private let codec = MessageCodec()
    private var machine: ClientStateMachine
    private var random: SplitMix64
    private var loop: Task<Void, Never>?
    private var connection: (any ClientConnection)?
    private var outbound: AsyncStream<String>.Continuation?
    private var writer: Task<Void, Never>?
    private var timer: (deadline: UInt64, task: Task<Void, Never>)?
    private var closed = false
    /// Callers of ``close(timeoutMs:)`` waiting for the machine to finish its close.
    private var closeWaiters: [CheckedContinuation<CloseReport, Never>] = []
    /// The outcome of the close, once finished; later calls return it.
    private var closeOutcome: CloseReport?
    /// Drains the last frames (`bye`) and closes the socket after the close finished.
    private var teardown: Task<Void, Never>?
    private let persist: (@Sendable (ClientStateMachine.Snapshot?) -> Void)?

    /// Creates a client; nothing happens until ``start()``.
    ///
    /// - Parameters:
    ///   - transport: how to open connections to the server.
    ///   - configuration: how the client behaves; brought into range by ``ClientConfiguration/normalized()``.
    ///   - reconnect: the backoff between connection attempts.
    ///   - clock: time for deadlines; the system's monotonic clock by default, a manual one in tests.
    ///   - jitterSeed: seeds the reconnect jitter; pass a fixed value for reproducible tests.
    ///   - snapshot: a session saved by an earlier process, resumed on the first connection.
    ///   - persist: called with the state to save after every input and *before* its frames are sent
    ///     (write-ahead), so that a process that dies at any point can resume without losing events. Keep it quick:
    ///     it runs on the client's actor.
    public init(
        transport: any ClientTransport,
        configuration: ClientConfiguration = ClientConfiguration(),
        reconnect: ReconnectPolicy = ReconnectPolicy(),
        clock: any EventAckClock = SystemEventAckClock(),
        jitterSeed: UInt64 = UInt64.random(in: 0...UInt64.max),
        restoring snapshot: ClientStateMachine.Snapshot? = nil,
        persist: (@Sendable (ClientStateMachine.Snapshot?) -> Void)? = nil
    ) {
        self.transport = transport
        self.clock = clock
        self.reconnect = reconnect
        self.persist = persist
        self.machine =
            snapshot.map { ClientStateMachine(configuration: configuration, restoring: $0) }
            ?? ClientStateMachine(configuration: configuration)
        self.random = SplitMix64(seed: jitterSeed)
        events = DeliveryStream(deliveries)
        (signals, signalsContinuation) = AsyncStream.makeStream()
    }

    /// Starts connecting (and reconnecting) in the background.
    public func start() {
        guard loop == nil, !closed else { return }
        loop = Task { await self.connectionLoop() }
    }

    /// The app rendered `seq`.
    public func markDisplayed(_ seq: Seq) throws(ClientUsageError) {
        let actions = try machine.markDisplayed(seq, now: clock.nowMs())
        perform(actions)
    }

    /// The user or app got the value of `seq`, with optional app data.
    public func confirmValue(_ seq: Seq, signal: String? = nil, score: Double? = nil) throws(ClientUsageError) {
        let actions = try machine.confirmValue(seq, signal: signal, score: score, now: clock.nowMs())
        perform(actions)
    }

    /// The app could not display `seq`, or its value was rejected.
    public func reject(
        _ seq: Seq,
        level: ConfirmationLevel,
        reason: NackReason,
        detail: String? = nil
    ) throws(ClientUsageError) {
        let actions = try machine.reject(seq, level: level, reason: reason, detail: detail, now: clock.nowMs())
        perform(actions)
    }

    /// Delivered events still waiting for display or value, optionally of one run.
    public func outstanding(run: String? = nil) -> [OutstandingEvent] {
        machine.outstanding(run: run)
    }

    /// Closes the client without losing what the app confirmed: flushes every receipt, confirmation and nack, waits
    /// until the server's `synced` covers them all (reconnecting and resuming if the connection is down), says
    /// `bye`, closes the connection and finishes ``events`` and ``signals`` (EA-BYE-2).
    ///
    /// - Parameter timeoutMs: the longest wait for the server; ``ClientConfiguration/closeTimeoutMs`` by default.
    /// - Returns: what the server did not confirm having; ``CloseReport/isComplete`` when it confirmed everything.
    ///   Every call returns the same report.
    @discardableResult
    public func close(timeoutMs: UInt64? = nil) async -> CloseReport {
        if let closeOutcome {
            await teardown?.value
            return closeOutcome
        }
        let report = await withCheckedContinuation { continuation in
            closeWaiters.append(continuation)
            if closeWaiters.count == 1 { perform(machine.close(now: clock.nowMs(), timeoutMs: timeoutMs)) }
        }
        await teardown?.value
        return report
    }

    // MARK: The shell

    private func connectionLoop() async {
        var failures = 0
        var lastError = ""
        while !closed && !Task.isCancelled {
            do {
                let inbound = InboundFrames(maxPendingBytes: machine.configuration.maxPendingInboundBytes)
                let connection = try await transport.connect(handingFramesTo: inbound)
                guard !closed else {
                    inbound.end()
                    await connection.close()
                    return
                }
                failures = 0
                await run(connection, inbound: inbound)
            } catch {
                failures += 1
                lastError = "\(error)"
                if let maxAttempts = reconnect.maxAttempts, failures >= maxAttempts {
                    signalsContinuation.yield(.gaveUp(attempts: failures, lastError: lastError))
                    // No connection to flush on: the close ends at once and reports what stays unconfirmed.
                    perform(machine.close(now: clock.nowMs(), timeoutMs: 0))
                    return
                }
                signalsContinuation.yield(.connectFailed(attempt: failures, error: lastError))
            }
            guard !closed else { return }
            let delay = reconnect.delayMs(attempt: max(0, failures - 1), random: random.next())
            do { try await clock.sleep(untilMs: clock.nowMs() + delay) } catch { return }
        }
    }

    /// Runs one connection until it ends.
    private func run(_ connection: any ClientConnection, inbound: InboundFrames) async {
        self.connection = connection
        let (frames, continuation) = AsyncStream<String>.makeStream()
        outbound = continuation
        let writer = Task {
            for await frame in frames {
                do { try await connection.send(frame) } catch { break }
            }
        }
        self.writer = writer
        perform(machine.connected(now: clock.nowMs()))
        // The transport hands frames to `inbound`; the actor takes every frame that arrived in one turn (one hop per
        // burst, not per frame) and, when none is left, tells the machine the burst is drained.
        reading: while let frames = await inbound.take() {
            inBurst = true
            for frame in frames {
                perform(machine.frameReceived(frame, now: clock.nowMs()))
                if self.connection == nil { break }
            }
            inBurst = false
            handOverDeliveries()
            rearmTimer()
            if self.connection == nil { break reading }
            if inbound.queue.isEmpty { perform(machine.inboundDrained(now: clock.nowMs())) }
        }
        inbound.end()
        let reason =
            inbound.didOverflow
            ? "the server sent more than \(inbound.maxPendingBytes) bytes faster than they could be processed"
            : "connection closed"
        perform(machine.connectionClosed(now: clock.nowMs(), reason: reason))
        continuation.finish()
        outbound = nil
        await writer.value
        await connection.close()
        self.connection = nil
    }

    private func perform(_ actions: [ClientAction]) {
        if let persist { persist(machine.snapshot) }
        for action in actions {
            switch action {
            case .send(let message):
                outbound?.yield(codec.encode(message))
            case .deliver(let event):
                burstDeliveries.append(Delivery(event: event, client: self))
            case .signal(let signal):
                signalsContinuation.yield(signal)
            case .closeConnection:
                if let connection {
                    self.connection = nil
                    outbound?.finish()
                    outbound = nil
                    Task { await connection.close() }
                }
            case .closed(let report):
                finishClose(report)
            }
        }
        // Within a burst both wait for its end: nothing can fire or read in between.
        if !inBurst {
            handOverDeliveries()
            rearmTimer()
        }
    }

    /// Hands what was delivered to ``events``.
    private func handOverDeliveries() {
        guard !burstDeliveries.isEmpty else { return }
        _ = deliveries.push(contentsOf: burstDeliveries)
        burstDeliveries.removeAll(keepingCapacity: true)
    }

    /// The machine finished its close (`bye` already queued): stop reconnecting, let the writer drain, close the
    /// socket, finish the streams and answer every ``close(timeoutMs:)`` caller.
    private func finishClose(_ report: CloseReport) {
        closed = true
        closeOutcome = report
        timer?.task.cancel()
        timer = nil
        loop?.cancel()
        outbound?.finish()
        outbound = nil
        let (connection, writer) = (self.connection, self.writer)
        self.connection = nil
        teardown = Task {
            await writer?.value
            await connection?.close()
        }
        handOverDeliveries()  // a close in the middle of a burst keeps what the burst delivered
        deliveries.finish()
        signalsContinuation.finish()
        for waiter in closeWaiters { waiter.resume(returning: report) }
        closeWaiters = []
    }

    /// Arms the one timer for the machine's next deadline — only when that deadline is earlier than the one armed.
    /// A later or vanished deadline leaves the armed sleep alone: when it wakes, ``timerFired(deadline:)`` asks the
    /// machine again. Re-arming on every change cost a task and a libdispatch timer per frame received, a third of
    /// the client's CPU at high rates.
    private func rearmTimer() {
        guard let deadline = machine.nextDeadline, !closed else { return }
        if let armed = timer?.deadline, armed <= deadline { return }
        timer?.task.cancel()
        let clock = self.clock
        timer = (
            deadline,
            Task {
                do { try await clock.sleep(untilMs: deadline) } catch { return }
                self.timerFired(deadline: deadline)
            }
        )
    }

    private func timerFired(deadline: UInt64) {
        guard timer?.deadline == deadline else { return }
        timer = nil
        let now = clock.nowMs()
        if let due = machine.nextDeadline, due <= now {
            perform(machine.timerFired(now: now))
        } else {
            rearmTimer()
        }
    }
}

/// One delivered event, with the confirmations the app can give for it.
public struct Delivery: Sendable {
    /// The event.
    public let event: Event
    let client: EventAckClient

    /// Confirms that the event was rendered.
    public func markDisplayed() async throws(ClientUsageError) {
        try await client.markDisplayed(event.seq)
    }

    /// Confirms that the event delivered its value.
    public func confirmValue(signal: String? = nil, score: Double? = nil) async throws(ClientUsageError) {
        try await client.confirmValue(event.seq, signal: signal, score: score)
    }

    /// Reports that the event failed at `level`.
    public func reject(level: ConfirmationLevel, reason: NackReason, detail: String? = nil)
        async throws(ClientUsageError)
    {
        try await client.reject(event.seq, level: level, reason: reason, detail: detail)
    }
}
