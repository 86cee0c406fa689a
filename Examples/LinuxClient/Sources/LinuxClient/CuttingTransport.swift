import EventAckClient
import Synchronization

/// For demonstrations and tests: wraps a transport and cuts its first `times` connections, without a close
/// handshake, after each delivered `afterFrames` frames, as a flaky network would. The client must then reconnect
/// and resume.
final class CuttingTransport: ClientTransport {
    let base: any ClientTransport
    let afterFrames: Int
    private let cutsLeft: Mutex<Int>

    init(base: any ClientTransport, afterFrames: Int, times: Int) {
        self.base = base
        self.afterFrames = afterFrames
        self.cutsLeft = Mutex(times)
    }

    func connect() async throws -> any ClientConnection {
        let connection = try await base.connect()
        let cut = cutsLeft.withLock { left in
            defer { left = max(0, left - 1) }
            return left > 0
        }
        guard cut else { return connection }
        let (inbound, continuation) = AsyncThrowingStream<String, any Error>.makeStream()
        let limit = afterFrames
        let pump = Task {
            var count = 0
            do {
                for try await frame in connection.inbound {
                    continuation.yield(frame)
                    count += 1
                    if count >= limit {
                        continuation.finish(throwing: CutByTest())
                        await connection.close()
                        return
                    }
                }
                continuation.finish()
            } catch {
                continuation.finish(throwing: error)
            }
        }
        return CutConnection(base: connection, inbound: inbound, pump: pump)
    }
}

struct CutConnection: ClientConnection {
    let base: any ClientConnection
    let inbound: AsyncThrowingStream<String, any Error>
    let pump: Task<Void, Never>

    func send(_ text: String) async throws { try await base.send(text) }

    func close() async {
        pump.cancel()
        await base.close()
    }
}

struct CutByTest: Error, CustomStringConvertible {
    var description: String { "connection cut on purpose (--cut-after)" }
}
