import EventAckProtocol
import EventAckReconciler

/// Faults of the server's side: a graceful restart (`bye` to everyone) and a hostile peer.
extension Simulation {
    /// Drawn after each frame the server receives.
    mutating func serverFaults() {
        if network.chance(faults.serverBye) {
            counts.serverByes += 1
            log("server says bye to everyone")
            perform(server.shutdown(reason: "restarting", now: now))
        }
        if network.chance(faults.hostile) { hostileBurst() }
    }

    /// Another authenticated user connects and sends forged, malformed and wrong-direction frames, then leaves.
    /// It owns no simulated session, so anything it changes in another session shows up as a violation.
    mutating func hostileBurst() {
        let connection = server.open(principal: "mallory", now: now)
        let victim =
            ledger.emissions.isEmpty ? nil : ledger.emissions[Int(network.next() % UInt64(ledger.emissions.count))]
        let big = network.next() % ProtocolLimits.maxSeq + 1
        var frames: [String] = [
            "{\"type\":\"ack\",\"receipt\":{\"upTo\":\(big)}}",
            "{not json",
            "{\"type\":\"hello\",\"versions\":[\"1.1\"],\"client\":{\"name\":\"m\",\"version\":\"1\"}}",
            "{\"type\":\"ack\",\"receipt\":{\"upTo\":\(big)},\"display\":{\"upTo\":\(big)}}",
            "{\"type\":\"nack\",\"seq\":1,\"level\":\"display\",\"reason\":\"x\\ny\",\"detail\":\"\(String(repeating: "z", count: 4000))\"}",
            "{\"type\":\"event\",\"seq\":1,\"run\":\"r\",\"kind\":\"k\",\"ts\":0,\"confirm\":\"value\",\"attempt\":1,\"payload\":{}}",
            "{\"type\":\"synced\",\"receipt\":{\"upTo\":\(big)}}",
            "{\"type\":\"welcome\",\"version\":\"1.1\",\"session\":\"s\",\"token\":\"t\",\"resumed\":true,\"heartbeatMs\":1,\"ackDelayMs\":0,\"window\":1,\"maxFrameBytes\":1024}",
            "{\"type\":\"ping\",\"id\":\(big)}",
            "{\"type\":\"shrug\"}",
        ]
        if let victim {
            // Someone else's session id with a made-up token: refused, and the wire does not say why (EA-ISO-4).
            let token = "t_" + String(network.next(), radix: 16)
            frames.insert(
                "{\"type\":\"hello\",\"versions\":[\"1.1\"],\"client\":{\"name\":\"m\",\"version\":\"1\"},"
                    + "\"resume\":{\"session\":\"\(victim.session.rawValue)\",\"token\":\"\(token)\","
                    + "\"receipt\":{\"upTo\":\(victim.seq)}}}",
                at: 0)
        }
        let count = 1 + Int(network.next() % 5)
        for _ in 0..<count {
            counts.hostileFrames += 1
            switch network.next() % 8 {
            case 0:
                perform(server.binaryFrameReceived(on: connection, now: now))
            case 1:
                perform(server.frameReceived(bytes: [0x7B, 0xFF, 0xFE, 0x7D], on: connection, now: now))
            default:
                let frame = frames[Int(network.next() % UInt64(frames.count))]
                log("mallory → server \(frame.prefix(200))")
                perform(server.frameReceived(frame, on: connection, now: now))
            }
        }
        perform(server.connectionClosed(connection, now: now))
    }
}
