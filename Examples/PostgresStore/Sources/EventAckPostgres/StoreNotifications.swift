import Logging
import PostgresNIO
import Synchronization

/// What wakes a node when another node writes something for it: PostgreSQL `LISTEN`/`NOTIFY` on the channel
/// ``channel``, instead of each node polling the tables (a forwarded event waited up to 20 ms for the owner's next
/// poll). Payloads: `forwarded` (a request in `eventack_forwarded`), `relay` (one in `eventack_relay`) and
/// `answer:<id>` (relayed request `id` was answered). Notifications are hints: every loop that waits on them also
/// wakes on a timeout and reads the tables, so a notification lost with the listening connection delays, never loses.
public final class StoreNotifications: Sendable {
    /// The channel every node listens on.
    public static let channel = "eventack"

    /// Signalled by `forwarded`.
    public let forwarded = Wakeup()
    /// Signalled by `relay`.
    public let relayed = Wakeup()
    /// Waiters for relayed requests' answers, and answers that came before their waiter (bounded).
    private let answers = Mutex<(waiters: [Int64: Wakeup], early: Set<Int64>)>(([:], []))

    init() {}

    /// Listens until the task is cancelled, reconnecting after a failure; every wakeup fires on each (re)connection,
    /// since something may have been written while no one listened.
    func run(client: PostgresClient, logger: Logger) async {
        while !Task.isCancelled {
            do {
                try await client.withConnection { connection in
                    try await connection.listen(on: Self.channel) { notifications in
                        self.wakeEverything()
                        for try await notification in notifications { self.dispatch(notification.payload) }
                    }
                }
            } catch {
                if Task.isCancelled { return }
                logger.debug("listening for notifications failed", metadata: ["error": "\(error)"])
            }
            try? await Task.sleep(for: .seconds(1))
        }
    }

    func dispatch(_ payload: String) {
        switch payload {
        case "forwarded": forwarded.signal()
        case "relay": relayed.signal()
        default:
            guard payload.hasPrefix("answer:"), let id = Int64(payload.dropFirst("answer:".count)) else { return }
            let waiter = answers.withLock { state -> Wakeup? in
                if let waiter = state.waiters[id] { return waiter }
                if state.early.count >= 10_000 { state.early = [] }
                state.early.insert(id)
                return nil
            }
            waiter?.signal()
        }
    }

    private func wakeEverything() {
        forwarded.signal()
        relayed.signal()
        for waiter in answers.withLock({ Array($0.waiters.values) }) { waiter.signal() }
    }

    /// Returns when request `id`'s answer is announced, or after `timeout` (then look anyway).
    func waitForAnswer(_ id: Int64, timeout: Duration) async {
        let waiter = answers.withLock { state -> Wakeup? in
            if state.early.remove(id) != nil { return nil }
            let waiter = state.waiters[id] ?? Wakeup()
            state.waiters[id] = waiter
            return waiter
        }
        guard let waiter else { return }
        await waiter.wait(timeout: timeout)
    }

    /// Stops waiting for request `id`'s answer.
    func forgetAnswer(_ id: Int64) {
        answers.withLock { state in
            state.waiters[id] = nil
            state.early.remove(id)
        }
    }
}

/// A signal one task waits on, with a timeout; a signal given while no one waits is kept for the next wait.
public final class Wakeup: Sendable {
    private struct State: Sendable {
        var pending = false
        var waiter: (id: UInt64, continuation: CheckedContinuation<Void, Never>)?
        var next: UInt64 = 0
        /// The last wait whose timeout fired: one that fires before its waiter is in place ends it all the same.
        var expired: UInt64 = 0
    }

    private let state = Mutex(State())

    init() {}

    /// Wakes the waiter, or the next one to wait.
    public func signal() {
        let waiter = state.withLock { state -> CheckedContinuation<Void, Never>? in
            guard let waiter = state.waiter else {
                state.pending = true
                return nil
            }
            state.waiter = nil
            return waiter.continuation
        }
        waiter?.resume()
    }

    /// Returns at the first signal since the last wait, or after `timeout`.
    public func wait(timeout: Duration) async {
        let id = state.withLock { state -> UInt64 in
            state.next += 1
            return state.next
        }
        let timer = Task {
            try? await Task.sleep(for: timeout)
            let waiter = state.withLock { state -> CheckedContinuation<Void, Never>? in
                state.expired = max(state.expired, id)
                guard state.waiter?.id == id else { return nil }
                defer { state.waiter = nil }
                return state.waiter?.continuation
            }
            waiter?.resume()
        }
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let ready = state.withLock { state -> Bool in
                if state.pending || state.expired >= id {
                    state.pending = false
                    return true
                }
                state.waiter = (id, continuation)
                return false
            }
            if ready { continuation.resume() }
        }
        timer.cancel()
    }
}
