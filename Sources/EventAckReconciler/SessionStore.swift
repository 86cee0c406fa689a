@_spi(Shell) import EventAckProtocol

/// Where a reconciler writes its sessions ahead of acting on them, so that any node can take a session over after a
/// crash (§ 15 of the spec).
///
/// The contract, which every implementation documents for its engine:
///
/// - ``append(_:commit:)`` returns only once the records are durable under the store's policy (for PostgreSQL: committed
///   with `synchronous_commit` on). The ``ReconcilerService`` sends no `event` and no `synced` that depends on a
///   record before this returns (write-ahead).
/// - Records of one session are kept in the order appended, and ``load(_:)`` returns them in that order.
/// - Exactly one node owns a session at a time (EA-DUR-4): a `resumed` record moves the session to the node that
///   appends it, provided it is still as that node loaded it, and fences every earlier owner, whose later appends for
///   that session are refused — ``append(_:commit:)`` returns the sessions it refused, and the fenced node stops serving
///   them.
public protocol SessionStore: Sendable {
    /// Makes `records` durable, in order. Ownership moves with them: an `opened` record makes this node the
    /// owner of a new session; a `resumed` record takes the session over from whoever owns it, provided it still
    /// is as this node last saw it (opened here, or ``load(_:)``ed by this node) — a compare-and-swap, which is the
    /// fence; every other record is refused unless this node owns the session.
    ///
    /// A store that lets agents emit on any node should hand the refused `emitted` records without an `origin` to
    /// the new owner (the PostgreSQL store forwards them in the same transaction): the events an agent emitted to a
    /// copy that had just moved away are then delivered, not lost (EA-DUR-5).
    ///
    /// **Unknown outcomes (EA-DUR-7).** A caller whose append threw retries the same records with the same `commit`,
    /// for as long as it takes. The store must then answer as the first attempt would have, had it been told: if
    /// that attempt committed (its outcome was only lost on the way back), the store writes nothing again and
    /// returns the sessions it refused then — a retry must never write a record twice, take a session over twice or
    /// find itself fenced by its own first attempt. Each run's verdict is recorded at most once per (session, run),
    /// whatever the caller sends (EA-DUR-6).
    ///
    /// - Parameters:
    ///   - records: the records, in order.
    ///   - commit: names this batch on every attempt; a new batch has a new one.
    /// - Returns: the sessions whose records were refused because another node took them over: stop serving them.
    /// - Throws: when the store cannot be reached or the outcome is unknown; nothing that depends on the records may
    ///   be sent, and the caller retries with the same `commit`.
    func append(_ records: [SessionRecord], commit: CommitID) async throws -> Set<SessionID>

    /// Returns `session`'s records in order, and remembers which version of the session this node saw (for the
    /// compare-and-swap of a later `resumed` record). Reading takes nothing over: only a resume that passed its
    /// checks does.
    ///
    /// - Returns: `nil` when the store does not know the session (never opened, ended, or expired).
    func load(_ session: SessionID) async throws -> [SessionRecord]?
}
