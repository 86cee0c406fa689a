@_spi(Shell) import EventAckProtocol
import Synchronization

extension ReconcilerService {
    /// Starts serving `connection`, authenticated by the host as `principal`. The host hands over the frames it
    /// receives itself (``ServedConnection/receive(_:)``): each goes from the transport's own loop to the
    /// reconciler, with no stream and no task in between.
    ///
    /// Returns `nil` after ``shutdown()``: close the connection. Otherwise call ``ServedConnection/end()`` once the
    /// connection's inbound side ended (or ``ServedConnection/receive(_:)`` returned `false`).
    ///
    /// - Parameters:
    ///   - connection: the accepted, authenticated connection; the service writes to it from a task of its own.
    ///   - principal: who the host authenticated (EA-HS-3).
    ///   - observe: called, under the service's lock, with every text frame received and the session it belongs to
    ///     (once the handshake completed), for a host that measures acks of its own sessions. Keep it quick.
    public func open(
        _ connection: some ServerConnection,
        principal: String,
        observe: (@Sendable (SessionID?, String) -> Void)? = nil
    ) -> ServedConnection? {
        let writer = BatchQueue<Message>(limit: maxQueuedFrames)
        let executor = connection.writerExecutor
        let id: ConnectionID? = state.withLock { state in
            guard !state.isShutDown else { return nil }
            let id = state.machine.open(principal: principal, now: clock.nowMs())
            state.writers[id] = Writer(queue: writer, executor: executor)
            state.serving += 1
            rearmTimer(&state)
            return id
        }
        guard let id else { return nil }
        let codec = self.codec
        let writing = Task(executorPreference: executor) {
            while let batch = await writer.next() {
                do { try await connection.send(contentsOf: batch.map(codec.encode)) } catch { break }
            }
            await connection.close()
        }
        return ServedConnection(service: self, id: id, connection: connection, writing: writing, observe: observe)
    }
}

/// A connection a ``ReconcilerService`` serves, fed by its host: see ``ReconcilerService/open(_:principal:observe:)``.
public final class ServedConnection: Sendable {
    let service: ReconcilerService
    let id: ConnectionID
    let connection: any ServerConnection
    /// The writer: encodes and sends what the reconciler queued for the connection, in order.
    let writing: Task<Void, Never>
    let observe: (@Sendable (SessionID?, String) -> Void)?
    /// Whether ``end()`` ran: a second call must not count the connection out twice.
    private let ended = Atomic<Bool>(false)

    init(
        service: ReconcilerService, id: ConnectionID, connection: any ServerConnection, writing: Task<Void, Never>,
        observe: (@Sendable (SessionID?, String) -> Void)?
    ) {
        self.service = service
        self.id = id
        self.connection = connection
        self.writing = writing
        self.observe = observe
    }

    /// Hands over one received frame, in order, from any task or thread. Returns `false` once the service closed the
    /// connection (a fatal error, a `bye`, a peer that does not read): stop reading and call ``end()``.
    public func receive(_ frame: InboundFrame) -> Bool {
        let (service, id, observe) = (service, id, observe)
        return service.state.withLock { state in
            guard state.writers[id] != nil else { return false }
            let now = service.clock.nowMs()
            switch frame {
            case .text(let text):
                service.perform(state.machine.frameReceived(text, on: id, now: now), &state)
                observe?(state.machine.session(on: id), text)
            case .textBytes(let bytes):
                service.perform(state.machine.frameReceived(bytes: bytes, on: id, now: now), &state)
                if let observe { observe(state.machine.session(on: id), String(decoding: bytes, as: UTF8.self)) }
            case .binary:
                service.perform(state.machine.binaryFrameReceived(on: id, now: now), &state)
            case .oversized(let byteCount):
                service.perform(state.machine.oversizedFrameReceived(byteCount: byteCount, on: id, now: now), &state)
            }
            return state.writers[id] != nil
        }
    }

    /// The connection's inbound side ended (or ``receive(_:)`` returned `false`): detaches its session, which waits
    /// for a resume, and returns once the writer is done. What is queued goes out first (a `bye`, a fatal error),
    /// but never for longer than a few seconds: a peer that does not read would otherwise hold the writer, and with
    /// it the connection and what it buffers, for ever. One known not to read is cut at once. Later calls return at
    /// once.
    public func end() async {
        guard !ended.exchange(true, ordering: .acquiringAndReleasing) else { return }
        let (service, id, connection, writing) = (service, id, connection, writing)
        let abandoned = service.state.withLock { state in
            service.perform(state.machine.connectionClosed(id, now: service.clock.nowMs()), &state)
            state.writers.removeValue(forKey: id)?.queue.finish()
            return state.abandoned.remove(id) != nil
        }
        let bound = Task {
            if !abandoned { try? await Task.sleep(for: .seconds(5)) }
            writing.cancel()
            await connection.abort()
        }
        await writing.value
        if !abandoned { bound.cancel() } else { await bound.value }
        service.state.withLock { $0.serving -= 1 }
    }
}
