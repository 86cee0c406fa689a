import HummingbirdCore
import Logging
import NIOCore
import NIOHTTP1
import Synchronization

/// Bounds what anonymous peers can hold (issue 14, defect 2): a cap on open connections, a tighter cap on those
/// that have not yet sent a complete request head, and a deadline for that head — so that silent sockets, or
/// sockets trickling one header line every few seconds, are closed instead of locking legitimate clients out.
///
/// At the anonymous cap, a new connection evicts the *oldest* anonymous one rather than being refused: a real
/// client sends its head within milliseconds and is never the oldest, while an attacker's idle sockets are.
///
/// It sits first in every connection's pipeline and looks only at bytes: a request head ends with an empty line.
/// What follows the first head is bounded elsewhere: the HTTP idle timeout, and for upgraded WebSockets the
/// EventAck handshake timeout and heartbeats (EA-HS-5, EA-LIVE-4).
public final class ConnectionGuard: ChannelInboundHandler, RemovableChannelHandler, @unchecked Sendable {
    public typealias InboundIn = ByteBuffer
    public typealias InboundOut = ByteBuffer

    /// Shared counts and limits of one server.
    public final class Limits: Sendable {
        /// Connections open at once; beyond, new ones are closed.
        public let maxConnections: Int
        /// Connections that have not yet sent a complete request head; beyond, the oldest is closed.
        public let maxAnonymous: Int
        /// How long a connection may take to send its request head.
        public let headTimeout: TimeAmount
        /// Open connections now.
        public let open = Atomic<Int>(0)
        /// Connections without a complete request head now.
        public let anonymous = Atomic<Int>(0)
        /// Connections refused or evicted so far.
        public let refused = Atomic<Int>(0)
        /// Connections closed for a late request head so far.
        public let timedOut = Atomic<Int>(0)
        /// Anonymous connections by arrival order, for eviction.
        private let waiting = Mutex<(next: UInt64, channels: [UInt64: any Channel])>((0, [:]))

        /// Registers an anonymous connection; returns its ticket and the oldest one to evict when over the cap.
        func admit(_ channel: any Channel) -> (ticket: UInt64, evict: (any Channel)?) {
            waiting.withLock { state in
                let ticket = state.next
                state.next += 1
                state.channels[ticket] = channel
                guard state.channels.count > maxAnonymous, let oldest = state.channels.keys.min() else {
                    return (ticket, nil)
                }
                return (ticket, state.channels.removeValue(forKey: oldest))
            }
        }

        /// The connection is no longer anonymous (or is gone).
        func leave(_ ticket: UInt64) {
            _ = waiting.withLock { $0.channels.removeValue(forKey: ticket) }
        }

        /// Limits for one server.
        public init(maxConnections: Int, maxAnonymous: Int, headTimeoutMs: Int64) {
            self.maxConnections = max(1, maxConnections)
            self.maxAnonymous = max(1, min(maxAnonymous, maxConnections))
            self.headTimeout = .milliseconds(max(1, headTimeoutMs))
        }
    }

    private let limits: Limits
    private var deadline: Scheduled<Void>?
    private var anonymous = false
    private var ticket: UInt64 = 0
    /// The last bytes seen, to find `\r\n\r\n` across reads.
    private var tail: [UInt8] = []

    /// A guard counting against `limits`.
    public init(limits: Limits) { self.limits = limits }

    public func channelActive(context: ChannelHandlerContext) {
        let limits = self.limits
        let open = limits.open.wrappingAdd(1, ordering: .relaxed).newValue
        context.channel.closeFuture.whenComplete { _ in limits.open.wrappingSubtract(1, ordering: .relaxed) }
        anonymous = true
        limits.anonymous.wrappingAdd(1, ordering: .relaxed)
        let (ticket, evict) = limits.admit(context.channel)
        self.ticket = ticket
        if let evict {
            // Over the anonymous cap: the oldest waiter goes, not the newcomer.
            limits.refused.wrappingAdd(1, ordering: .relaxed)
            evict.close(promise: nil)
        }
        guard open <= limits.maxConnections else {
            limits.refused.wrappingAdd(1, ordering: .relaxed)
            leaveAnonymous()
            context.close(promise: nil)
            return
        }
        let channel = context.channel
        deadline = context.eventLoop.scheduleTask(in: limits.headTimeout) { [weak self] in
            limits.timedOut.wrappingAdd(1, ordering: .relaxed)
            self?.leaveAnonymous()
            channel.close(promise: nil)
        }
        context.fireChannelActive()
    }

    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if anonymous {
            let buffer = unwrapInboundIn(data)
            let window = tail + (buffer.getBytes(at: buffer.readerIndex, length: min(buffer.readableBytes, 8192)) ?? [])
            if Self.containsEndOfHead(window) {
                // A complete head arrived in time; authentication and the rest are the server's business.
                deadline?.cancel()
                deadline = nil
                leaveAnonymous()
                tail = []
            } else {
                tail = Array(window.suffix(3))
            }
        }
        context.fireChannelRead(data)
    }

    public func channelInactive(context: ChannelHandlerContext) {
        deadline?.cancel()
        deadline = nil
        leaveAnonymous()
        context.fireChannelInactive()
    }

    private func leaveAnonymous() {
        guard anonymous else { return }
        anonymous = false
        limits.anonymous.wrappingSubtract(1, ordering: .relaxed)
        limits.leave(ticket)
    }

    static func containsEndOfHead(_ bytes: [UInt8]) -> Bool {
        guard bytes.count >= 4 else { return false }
        for index in 0...(bytes.count - 4)
        where bytes[index] == 13 && bytes[index + 1] == 10 && bytes[index + 2] == 13 && bytes[index + 3] == 10 {
            return true
        }
        return false
    }
}

/// A server child channel with a ``ConnectionGuard`` first in each pipeline, and an ``UpgradeGate`` right after
/// the HTTP request decoder.
struct GuardedChildChannel<Base: ServerChildChannel>: ServerChildChannel {
    typealias Value = Base.Value
    let base: Base
    let limits: ConnectionGuard.Limits
    let upgradeCheck: @Sendable (HTTPRequestHead) -> UpgradeGate.Refusal?

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        let (limits, check) = (self.limits, upgradeCheck)
        do {
            try channel.pipeline.syncOperations.addHandler(ConnectionGuard(limits: limits), position: .first)
        } catch {
            return channel.eventLoop.makeFailedFuture(error)
        }
        let value = base.setup(channel: channel, logger: logger)
        // The base set up its HTTP pipeline synchronously: the decoder is there now.
        do {
            let decoder = try channel.pipeline.syncOperations.handler(
                type: ByteToMessageHandler<HTTPRequestDecoder>.self)
            try channel.pipeline.syncOperations.addHandler(UpgradeGate(check: check), position: .after(decoder))
        } catch {
            logger.warning("no HTTP request decoder to gate the upgrade: \(error)")
        }
        return value
    }

    func handle(value: Value, logger: Logger) async {
        await base.handle(value: value, logger: logger)
    }
}
