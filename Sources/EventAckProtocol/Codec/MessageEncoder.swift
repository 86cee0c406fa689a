/// Encodes a ``Message`` as compact JSON with members in the order the specification lists them, so that equal
/// messages always encode to equal bytes (EA-MSG-3).
enum MessageEncoder {
    static func encode(_ message: Message, into writer: inout JSONWriter) {
        switch message {
        case .hello(let hello): encode(hello, into: &writer)
        case .welcome(let welcome): encode(welcome, into: &writer)
        case .event(let event): encode(event, into: &writer)
        case .ack(let ack): encode(ack, into: &writer)
        case .nack(let nack): encode(nack, into: &writer)
        case .synced(let synced): encode(synced, into: &writer)
        case .progress(let progress): encode(progress, into: &writer)
        case .ping(let id):
            writer.beginMessage("ping")
            writer.key("id")
            writer.integer(id)
            writer.endObject()
        case .pong(let id):
            writer.beginMessage("pong")
            writer.key("id")
            writer.integer(id)
            writer.endObject()
        case .error(let error): encode(error, into: &writer)
        case .bye(let reason):
            writer.beginMessage("bye")
            if let reason {
                writer.key("reason")
                writer.string(reason)
            }
            writer.endObject()
        }
    }

    static func encode(_ hello: Hello, into writer: inout JSONWriter) {
        writer.beginMessage("hello")
        writer.key("versions")
        writer.beginArray()
        for (index, version) in hello.versions.enumerated() {
            if index > 0 { writer.comma() }
            writer.string(version.description)
        }
        writer.endArray()
        writer.key("client")
        writer.beginObject()
        writer.key("name", first: true)
        writer.string(hello.client.name)
        writer.key("version")
        writer.string(hello.client.version)
        writer.endObject()
        if let window = hello.window {
            writer.key("window")
            writer.integer(window)
        }
        if let resume = hello.resume {
            writer.key("resume")
            writer.beginObject()
            writer.key("session", first: true)
            writer.string(resume.session)
            writer.key("token")
            writer.string(resume.token)
            writer.key("receipt")
            encode(resume.receipt, into: &writer)
            writer.endObject()
        }
        writer.endObject()
    }

    static func encode(_ welcome: Welcome, into writer: inout JSONWriter) {
        writer.beginMessage("welcome")
        writer.key("version")
        writer.string(welcome.version.description)
        writer.key("session")
        writer.string(welcome.session)
        writer.key("token")
        writer.string(welcome.token)
        writer.key("resumed")
        writer.bool(welcome.resumed)
        writer.key("heartbeatMs")
        writer.integer(welcome.heartbeatMs)
        writer.key("ackDelayMs")
        writer.integer(welcome.ackDelayMs)
        writer.key("window")
        writer.integer(welcome.window)
        writer.key("maxFrameBytes")
        writer.integer(welcome.maxFrameBytes)
        writer.endObject()
    }

    static func encode(_ event: Event, into writer: inout JSONWriter) {
        writer.beginMessage("event")
        writer.key("seq")
        writer.integer(event.seq)
        writer.key("run")
        writer.string(event.run)
        writer.key("kind")
        writer.string(event.kind)
        writer.key("ts")
        writer.integer(event.ts)
        writer.key("confirm")
        writer.string(event.confirm.rawValue)
        writer.key("attempt")
        writer.integer(event.attempt)
        writer.key("payload")
        writer.raw(event.payload.json)
        if event.endsRun {
            writer.key("endsRun")
            writer.bool(true)
        }
        writer.endObject()
    }

    static func encode(_ ack: Ack, into writer: inout JSONWriter) {
        writer.beginMessage("ack")
        if let receipt = ack.receipt {
            writer.key("receipt")
            encode(receipt, into: &writer)
        }
        if let display = ack.display {
            writer.key("display")
            encode(display, into: &writer)
        }
        if let value = ack.value {
            writer.key("value")
            writer.beginArray()
            for (index, item) in value.enumerated() {
                if index > 0 { writer.comma() }
                writer.beginObject()
                writer.key("seq", first: true)
                writer.integer(item.seq)
                if let signal = item.signal {
                    writer.key("signal")
                    writer.string(signal)
                }
                if let score = item.score, score.isFinite {
                    writer.key("score")
                    writer.double(score)
                }
                writer.endObject()
            }
            writer.endArray()
        }
        writer.endObject()
    }

    static func encode(_ nack: Nack, into writer: inout JSONWriter) {
        writer.beginMessage("nack")
        writer.key("seq")
        writer.integer(nack.seq)
        writer.key("level")
        writer.string(nack.level.rawValue)
        writer.key("reason")
        writer.string(nack.reason.rawValue)
        if let detail = nack.detail {
            writer.key("detail")
            writer.string(detail)
        }
        writer.endObject()
    }

    static func encode(_ synced: Synced, into writer: inout JSONWriter) {
        writer.beginMessage("synced")
        if let receipt = synced.receipt {
            writer.key("receipt")
            encode(receipt, into: &writer)
        }
        if let display = synced.display {
            writer.key("display")
            encode(display, into: &writer)
        }
        if let value = synced.value {
            writer.key("value")
            encode(value, into: &writer)
        }
        writer.endObject()
    }

    static func encode(_ progress: Progress, into writer: inout JSONWriter) {
        writer.beginMessage("progress")
        writer.key("run")
        writer.string(progress.run)
        writer.key("ts")
        writer.integer(progress.ts)
        if let note = progress.note {
            writer.key("note")
            writer.string(note)
        }
        writer.endObject()
    }

    static func encode(_ error: ErrorMessage, into writer: inout JSONWriter) {
        writer.beginMessage("error")
        writer.key("code")
        writer.string(error.code.rawValue)
        writer.key("message")
        writer.string(error.message)
        writer.key("fatal")
        writer.bool(error.fatal)
        if let seq = error.seq {
            writer.key("seq")
            writer.integer(seq)
        }
        writer.endObject()
    }

    /// Ack sets are written capped to 64 ranges (EA-ACK-4); `ranges` is omitted when empty.
    static func encode(_ set: AckSet, into writer: inout JSONWriter) {
        let capped = set.capped()
        writer.beginObject()
        writer.key("upTo", first: true)
        writer.integer(capped.upTo)
        if !capped.ranges.isEmpty {
            writer.key("ranges")
            writer.ranges(capped.ranges)
        }
        writer.endObject()
    }
}
