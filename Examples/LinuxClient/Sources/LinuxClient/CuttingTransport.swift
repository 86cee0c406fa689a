import EventAckClient
import Synchronization

/// For demonstrations and tests: wraps a transport and cuts its first `times` connections, without a close
/// handshake, after each delivered `afterFrames` frames, as a flaky network would. The client must then reconnect
/// and resume.
///
/// A decorator in the one transport model: the wrapped transport hands its frames to an `InboundFrames` of this
/// transport's own, and a relay moves them on to the client's, counting.
final class CuttingTransport: ClientTransport {
    let base: any ClientTransport
    let afterFrames: Int
    private let cutsLeft: Mutex<Int>

    init(base: any ClientTransport, afterFrames: Int, times: Int) {
        self.base = base
        self.afterFrames = afterFrames
        self.cutsLeft = Mutex(times)
    }

    func connect(handingFramesTo inbound: InboundFrames) async throws -> any ClientConnection {
        let cut = cutsLeft.withLock { left in
            defer { left = max(0, left - 1) }
            return left > 0
        }
        guard cut else { return try await base.connect(handingFramesTo: inbound) }
        let relayed = InboundFrames(maxPendingBytes: inbound.maxPendingBytes)
        let connection = try await base.connect(handingFramesTo: relayed)
        let limit = afterFrames
        let relay = Task {
            var count = 0
            while let frames = await relayed.take() {
                for frame in frames {
                    guard inbound.receive(frame) else {
                        await connection.close()
                        return
                    }
                    count += 1
                    if count >= limit {
                        inbound.end(throwing: CutByTest())
                        await connection.close()
                        return
                    }
                }
            }
            inbound.end(throwing: relayed.failure)
        }
        return CutConnection(base: connection, relay: relay)
    }
}

struct CutConnection: ClientConnection {
    let base: any ClientConnection
    let relay: Task<Void, Never>

    func send(_ text: String) async throws { try await base.send(text) }

    func close() async {
        relay.cancel()
        await base.close()
    }
}

struct CutByTest: Error, CustomStringConvertible {
    var description: String { "connection cut on purpose (--cut-after)" }
}
