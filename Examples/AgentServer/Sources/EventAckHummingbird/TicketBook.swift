import Synchronization

/// Short-lived, single-use tickets that stand for a credential where a browser cannot send one (Spec/BROWSER.md § 1, EA-WEB-1):
/// a page cannot set `Authorization` on a `WebSocket` or an `EventSource`, so it asks for a ticket over HTTP with its
/// credential (`POST /v1/tickets`) and passes it in the URL of the upgrade (`?ticket=`).
///
/// A ticket is 128 random bits, lives ``lifetimeMs`` (30 s by default) and opens one connection: the first
/// ``redeem(_:now:)`` takes it. URLs end up in logs and histories; a ticket found there is spent or expired. At most
/// ``perCredential`` tickets of one credential wait at once (beyond, its oldest is dropped: a page asking in a loop
/// only spends its own), and at most ``capacity`` in all (beyond, the oldest), so nobody can grow the book. Time is
/// passed in (milliseconds of any monotonic clock).
public final class TicketBook: Sendable {
    /// How long a ticket may wait for its connection, ms.
    public let lifetimeMs: UInt64
    /// The most tickets waiting at once.
    public let capacity: Int
    /// The most tickets of one credential waiting at once.
    public let perCredential: Int
    private let state = Mutex<State>(State())
    private let start = ContinuousClock.now

    private struct State {
        var tickets: [String: (credential: EventAckCredential, expiresAt: UInt64, order: UInt64)] = [:]
        /// Each credential's tickets, oldest first (spent ones are skipped when the list is trimmed).
        var byCredential: [EventAckCredential: [String]] = [:]
        var nextOrder: UInt64 = 0
    }

    /// A book whose tickets live `lifetimeMs`, at most `capacity` of them at once and `perCredential` of one
    /// credential.
    public init(lifetimeMs: UInt64 = 30_000, capacity: Int = 65_536, perCredential: Int = 16) {
        self.lifetimeMs = max(1, lifetimeMs)
        self.capacity = max(1, capacity)
        self.perCredential = max(1, perCredential)
    }

    /// A new ticket for `credential` (a user's or the operator's; others are the caller's to refuse).
    public func issue(for credential: EventAckCredential, now: UInt64) -> String {
        var generator = SystemRandomNumberGenerator()
        let ticket =
            "tk_"
            + [generator.next(), generator.next()].map { (word: UInt64) in
                let hex = String(word, radix: 16)
                return String(repeating: "0", count: 16 - hex.count) + hex
            }.joined()
        state.withLock { state in
            if state.tickets.count >= capacity {
                state.tickets = state.tickets.filter { $0.value.expiresAt > now }
                state.byCredential = state.byCredential.filter { $0.value.contains { state.tickets[$0] != nil } }
            }
            if state.tickets.count >= capacity,
                let oldest = state.tickets.min(by: { $0.value.order < $1.value.order })?.key
            {
                state.tickets[oldest] = nil
            }
            var own = (state.byCredential[credential] ?? []).filter { state.tickets[$0] != nil }
            while own.count >= perCredential { state.tickets[own.removeFirst()] = nil }
            own.append(ticket)
            state.byCredential[credential] = own
            state.tickets[ticket] = (credential, now + lifetimeMs, state.nextOrder)
            state.nextOrder += 1
        }
        return ticket
    }

    /// The credential of a valid ticket, without spending it: a check made before the one that decides.
    public func peek(_ ticket: String, now: UInt64) -> EventAckCredential? {
        state.withLock { state in
            guard let entry = state.tickets[ticket], entry.expiresAt > now else { return nil }
            return entry.credential
        }
    }

    /// Spends `ticket`: its credential the first time within its lifetime, `nil` after (or for a ticket never
    /// issued).
    public func redeem(_ ticket: String, now: UInt64) -> EventAckCredential? {
        state.withLock { state in
            guard let entry = state.tickets.removeValue(forKey: ticket), entry.expiresAt > now else { return nil }
            return entry.credential
        }
    }

    /// Milliseconds since the book was made: the clock of the calls without `now`.
    public var nowMs: UInt64 {
        let elapsed = start.duration(to: .now).components
        return UInt64(max(0, elapsed.seconds)) * 1000 + UInt64(max(0, elapsed.attoseconds) / 1_000_000_000_000_000)
    }

    /// ``issue(for:now:)`` at ``nowMs``.
    public func issue(for credential: EventAckCredential) -> String { issue(for: credential, now: nowMs) }

    /// ``peek(_:now:)`` at ``nowMs``.
    public func peek(_ ticket: String) -> EventAckCredential? { peek(ticket, now: nowMs) }

    /// ``redeem(_:now:)`` at ``nowMs``.
    public func redeem(_ ticket: String) -> EventAckCredential? { redeem(ticket, now: nowMs) }

    /// The `ticket` query parameter of a request target such as `/eventack?ticket=tk_…`, if any.
    public static func ticket(inTarget target: String) -> String? {
        guard let query = target.split(separator: "?", maxSplits: 1).dropFirst().first else { return nil }
        for pair in query.split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1)
            if parts.count == 2, parts[0] == "ticket", !parts[1].isEmpty { return String(parts[1]) }
        }
        return nil
    }
}
