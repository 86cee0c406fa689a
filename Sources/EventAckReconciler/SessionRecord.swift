import EventAckProtocol

/// One change to a session, as the reconciler writes it ahead to a ``SessionStore`` (§ 15 of the spec): replayed
/// in order, a session's records rebuild it on any node after a crash.
///
/// Records carry what cannot be derived: who the session belongs to and its resume token, each event as emitted,
/// the confirmations and failures that settled events, and the verdict of each finished run. Deadlines, attempt
/// counts and connection state are not recorded: after a recovery they start again from the recovery's time.
public struct SessionRecord: Sendable, Hashable, Codable {
    /// What changed.
    public enum Change: Sendable, Hashable {
        /// The session was opened for `principal` with its first resume token.
        case opened(principal: String, token: String, version: ProtocolVersion, window: UInt64, at: UInt64)
        /// The session was resumed: `token` is the new resume token; the one presented stays valid until
        /// `previousValidUntil` (EA-RES-3).
        case resumed(
            token: String, previousToken: String?, previousValidUntil: UInt64, version: ProtocolVersion,
            window: UInt64, at: UInt64)
        /// An event was emitted with `seq`. `origin` names the request that asked for it when it came through a
        /// store (an agent on another node): the store retires that request with this record, atomically.
        case emitted(
            seq: Seq, run: String, kind: String, ts: UInt64, confirm: ConfirmationLevel, endsRun: Bool,
            payload: Payload, origin: String?)
        /// The client confirmed `seqs` at `level` (and so at every level below).
        case confirmed(level: ConfirmationLevel, seqs: AckSet, at: UInt64)
        /// The event failed; final.
        case failed(seq: Seq, reason: FailureReason, at: UInt64)
        /// A run has its verdict: the cross-node report's source.
        case runFinished(RunReport)
        /// The session ended (expired); the store may forget its records, but not its finished runs.
        case ended(at: UInt64)
        /// The host said `run` was requested at `at` (``Reconciler/runRequested(_:in:at:reportingConfirmations:idleTimeoutMs:profile:now:)``): the origin of the run
        /// profile's `.request` SLOs, which a recovered session measures from too; its own idle timeout, and whether
        /// its confirmations are reported (a published run's: the node that takes the session over goes on reporting).
        case runRequested(
            run: String, at: UInt64, idleTimeoutMs: UInt64? = nil, reportsConfirmations: Bool = false,
            profile: String? = nil)
    }

    /// The session changed.
    public var session: SessionID
    /// How.
    public var change: Change

    /// A record of `change` to `session`.
    public init(session: SessionID, change: Change) {
        self.session = session
        self.change = change
    }

    /// The record's kind as a short stable name (`opened`, `resumed`, `emitted`, `confirmed`, `failed`,
    /// `runFinished`, `ended`, `runRequested`), for stores that index or route by it.
    public var kind: String {
        switch change {
        case .opened: "opened"
        case .resumed: "resumed"
        case .emitted: "emitted"
        case .confirmed: "confirmed"
        case .failed: "failed"
        case .runFinished: "runFinished"
        case .ended: "ended"
        case .runRequested: "runRequested"
        }
    }

    // MARK: Codable

    private enum Key: String, CodingKey {
        case session, kind, principal, token, previousToken, previousValidUntil, version, window, at
        case seq, run, eventKind, ts, confirm, endsRun, payload, origin, level, upTo, ranges, reason, idleTimeoutMs
        case reportsConfirmations, profile
        case report
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: Key.self)
        session = try c.decode(SessionID.self, forKey: .session)
        let kind = try c.decode(String.self, forKey: .kind)
        switch kind {
        case "opened":
            change = .opened(
                principal: try c.decode(String.self, forKey: .principal),
                token: try c.decode(String.self, forKey: .token),
                version: try c.decode(ProtocolVersion.self, forKey: .version),
                window: try c.decode(UInt64.self, forKey: .window), at: try c.decode(UInt64.self, forKey: .at))
        case "resumed":
            change = .resumed(
                token: try c.decode(String.self, forKey: .token),
                previousToken: try c.decodeIfPresent(String.self, forKey: .previousToken),
                previousValidUntil: try c.decode(UInt64.self, forKey: .previousValidUntil),
                version: try c.decode(ProtocolVersion.self, forKey: .version),
                window: try c.decode(UInt64.self, forKey: .window), at: try c.decode(UInt64.self, forKey: .at))
        case "emitted":
            let payload = try c.decode(String.self, forKey: .payload)
            change = .emitted(
                seq: try c.decode(Seq.self, forKey: .seq), run: try c.decode(String.self, forKey: .run),
                kind: try c.decode(String.self, forKey: .eventKind), ts: try c.decode(UInt64.self, forKey: .ts),
                confirm: try c.decode(ConfirmationLevel.self, forKey: .confirm),
                endsRun: try c.decode(Bool.self, forKey: .endsRun), payload: try Payload(json: payload),
                origin: try c.decodeIfPresent(String.self, forKey: .origin))
        case "confirmed":
            let pairs = try c.decode([[Seq]].self, forKey: .ranges)
            let ranges = try pairs.map { pair -> ClosedRange<Seq> in
                guard pair.count == 2, pair[0] <= pair[1] else {
                    throw DecodingError.dataCorruptedError(
                        forKey: .ranges, in: c, debugDescription: "a range is [low, high]")
                }
                return pair[0]...pair[1]
            }
            change = .confirmed(
                level: try c.decode(ConfirmationLevel.self, forKey: .level),
                seqs: try AckSet(upTo: try c.decode(Seq.self, forKey: .upTo), ranges: ranges),
                at: try c.decode(UInt64.self, forKey: .at))
        case "failed":
            change = .failed(
                seq: try c.decode(Seq.self, forKey: .seq), reason: try c.decode(FailureReason.self, forKey: .reason),
                at: try c.decode(UInt64.self, forKey: .at))
        case "runFinished":
            change = .runFinished(try c.decode(RunReport.self, forKey: .report))
        case "ended":
            change = .ended(at: try c.decode(UInt64.self, forKey: .at))
        case "runRequested":
            change = .runRequested(
                run: try c.decode(String.self, forKey: .run), at: try c.decode(UInt64.self, forKey: .at),
                idleTimeoutMs: try c.decodeIfPresent(UInt64.self, forKey: .idleTimeoutMs),
                reportsConfirmations: try c.decodeIfPresent(Bool.self, forKey: .reportsConfirmations) ?? false,
                profile: try c.decodeIfPresent(String.self, forKey: .profile))
        default:
            throw DecodingError.dataCorruptedError(forKey: .kind, in: c, debugDescription: "unknown record \(kind)")
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: Key.self)
        try c.encode(session, forKey: .session)
        try c.encode(kind, forKey: .kind)
        switch change {
        case .opened(let principal, let token, let version, let window, let at):
            try c.encode(principal, forKey: .principal)
            try c.encode(token, forKey: .token)
            try c.encode(version, forKey: .version)
            try c.encode(window, forKey: .window)
            try c.encode(at, forKey: .at)
        case .resumed(let token, let previousToken, let previousValidUntil, let version, let window, let at):
            try c.encode(token, forKey: .token)
            try c.encodeIfPresent(previousToken, forKey: .previousToken)
            try c.encode(previousValidUntil, forKey: .previousValidUntil)
            try c.encode(version, forKey: .version)
            try c.encode(window, forKey: .window)
            try c.encode(at, forKey: .at)
        case .emitted(let seq, let run, let kind, let ts, let confirm, let endsRun, let payload, let origin):
            try c.encode(seq, forKey: .seq)
            try c.encode(run, forKey: .run)
            try c.encode(kind, forKey: .eventKind)
            try c.encode(ts, forKey: .ts)
            try c.encode(confirm, forKey: .confirm)
            try c.encode(endsRun, forKey: .endsRun)
            try c.encode(payload.json, forKey: .payload)
            try c.encodeIfPresent(origin, forKey: .origin)
        case .confirmed(let level, let seqs, let at):
            try c.encode(level, forKey: .level)
            try c.encode(seqs.upTo, forKey: .upTo)
            try c.encode(seqs.ranges.map { [$0.lowerBound, $0.upperBound] }, forKey: .ranges)
            try c.encode(at, forKey: .at)
        case .failed(let seq, let reason, let at):
            try c.encode(seq, forKey: .seq)
            try c.encode(reason, forKey: .reason)
            try c.encode(at, forKey: .at)
        case .runFinished(let report):
            try c.encode(report, forKey: .report)
        case .ended(let at):
            try c.encode(at, forKey: .at)
        case .runRequested(let run, let at, let idleTimeoutMs, let reportsConfirmations, let profile):
            try c.encode(run, forKey: .run)
            try c.encode(at, forKey: .at)
            try c.encodeIfPresent(idleTimeoutMs, forKey: .idleTimeoutMs)
            if reportsConfirmations { try c.encode(true, forKey: .reportsConfirmations) }
            try c.encodeIfPresent(profile, forKey: .profile)
        }
    }
}
