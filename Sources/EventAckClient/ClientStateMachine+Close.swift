import EventAckProtocol

/// A close in progress: the machine flushed its acks and waits, until `deadline`, for the server's `synced` to cover
/// them before it says `bye` (EA-BYE-2).
struct Closing: Sendable {
    var deadline: UInt64
}

extension ClientStateMachine {
    /// The app is done. Flushes every receipt, confirmation and nack, waits until the server's `synced` covers them
    /// all (or `timeoutMs` passes, ``ClientConfiguration/closeTimeoutMs`` by default), then says `bye` and accepts
    /// nothing more (EA-BYE-1, EA-BYE-2). The close ends with a ``ClientAction/closed(_:)`` action carrying what the
    /// server did not confirm having — at once when everything is already echoed, otherwise from a later input or
    /// ``timerFired(now:)``. While it waits, the machine keeps working normally: it may reconnect and resume to
    /// flush, and events that arrive are still delivered and acknowledged.
    public mutating func close(now: UInt64, timeoutMs: UInt64? = nil) -> [ClientAction] {
        if case .closed = connection { return [] }
        guard closing == nil else { return [] }
        closing = Closing(deadline: now + min(timeoutMs ?? configuration.closeTimeoutMs, 86_400_000))
        let flushed = isConnected ? flushAck(now: now, force: true) : []
        return flushed + finishCloseIfDone(now: now)
    }

    /// Whether a close is waiting for the server.
    public var isClosing: Bool { closing != nil }

    /// Ends a close once the server echoed everything on a live link, or its deadline passed. Called after every
    /// input that can settle it.
    mutating func finishCloseIfDone(now: UInt64) -> [ClientAction] {
        guard let closing else { return [] }
        let settled = session == nil || (isConnected && isFullyEchoed)
        guard settled || now >= closing.deadline else { return [] }
        var actions: [ClientAction] = []
        if isConnected { actions += sent(.bye(reason: "client closed"), now: now) }
        let report = closeReport(isComplete: settled)
        self.closing = nil
        leaveConnection(to: .closed)
        actions.append(.closed(report))
        return actions
    }

    /// Every receipt, confirmation and nack of the session is covered by the server's `synced`.
    var isFullyEchoed: Bool {
        guard !confirmations.hasUnechoed else { return false }
        if delivery.received.isEmpty { return true }
        return confirmations.synced.receipt?.isSuperset(of: delivery.received) ?? false
    }

    private func closeReport(isComplete: Bool) -> CloseReport {
        let echoedReceipts = confirmations.synced.receipt ?? AckSet()
        var unechoed: [ClosedRange<Seq>] = []
        for range in delivery.received.memberRanges {
            unechoed += echoedReceipts.missing(from: range)
        }
        return CloseReport(
            isComplete: isComplete,
            unsynced: confirmations.unsyncedSeqs().union(confirmations.unsyncedNacks.keys).sorted(),
            unechoedReceipts: unechoed, outstanding: outstanding())
    }
}
