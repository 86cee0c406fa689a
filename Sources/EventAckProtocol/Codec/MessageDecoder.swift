/// Decodes one frame into a ``Message`` with the validation rules of the specification. Each message type has its
/// own function; all of them read members through ``JSONObjectReader``, so every failure carries a code and a path.
enum MessageDecoder {
    static func decode(_ bytes: UnsafeBufferPointer<UInt8>) throws(EventAckError) -> Message {
        var scanner = JSONScanner(bytes)
        let fields = try scanner.scanObjectDocument(path: .root)
        let reader = JSONObjectReader(bytes: bytes, fields: fields, path: .root)
        let typeSpan = try reader.required("type")
        guard typeSpan.kind == .string else { throw reader.invalid("type", "\"type\" must be a string") }
        guard let type = MessageType.allCases.first(where: { reader.matches(typeSpan, $0.rawValue) }) else {
            let name = JSONText.string(typeSpan, in: bytes)
            throw EventAckError(
                code: .unknownType, message: "unknown message type \"\(name.prefix(64))\"",
                path: "$.type")
        }
        switch type {
        case .hello: return .hello(try hello(reader))
        case .welcome: return .welcome(try welcome(reader))
        case .event: return .event(try event(reader))
        case .ack: return .ack(try ack(reader))
        case .nack: return .nack(try nack(reader))
        case .synced: return .synced(try synced(reader))
        case .progress: return .progress(try progress(reader))
        case .ping: return .ping(id: try reader.requiredInteger("id"))
        case .pong: return .pong(id: try reader.requiredInteger("id"))
        case .error: return .error(try errorMessage(reader))
        case .bye: return .bye(reason: try reader.optionalText("reason"))
        }
    }

    static func hello(_ reader: JSONObjectReader) throws(EventAckError) -> Hello {
        let versionsPath = reader.memberPath("versions")
        let versionSpans = try JSONArrayReader.elements(
            try reader.required("versions"), in: reader.bytes, limit: ProtocolLimits.maxOfferedVersions,
            path: versionsPath)
        guard !versionSpans.isEmpty else { throw reader.invalid("versions", "\"versions\" must not be empty") }
        var versions: [ProtocolVersion] = []
        for (index, span) in versionSpans.enumerated() {
            guard span.kind == .string, let version = ProtocolVersion(JSONText.string(span, in: reader.bytes)) else {
                throw EventAckError(
                    code: .invalidMessage, message: "a version must be a \"MAJOR.MINOR\" string",
                    path: versionsPath.appending(index: index).description)
            }
            versions.append(version)
        }
        let clientReader = try reader.requiredObject("client")
        let client = ClientInfo(
            name: try clientReader.requiredIdentifier("name"),
            version: try clientReader.requiredIdentifier("version")
        )
        var resume: ResumeRequest?
        if let resumeReader = try reader.optionalObject("resume") {
            resume = ResumeRequest(
                session: try resumeReader.requiredIdentifier("session"),
                token: try resumeReader.requiredIdentifier("token"),
                receipt: try ackSet(try resumeReader.requiredObject("receipt"))
            )
        }
        return Hello(
            versions: versions, client: client, window: try reader.optionalInteger("window", minimum: 1),
            resume: resume)
    }

    static func welcome(_ reader: JSONObjectReader) throws(EventAckError) -> Welcome {
        let versionSpan = try reader.required("version")
        guard versionSpan.kind == .string, let version = ProtocolVersion(JSONText.string(versionSpan, in: reader.bytes))
        else { throw reader.invalid("version", "\"version\" must be a \"MAJOR.MINOR\" string") }
        return Welcome(
            version: version,
            session: try reader.requiredIdentifier("session"),
            token: try reader.requiredIdentifier("token"),
            resumed: try reader.requiredBool("resumed"),
            heartbeatMs: try reader.requiredInteger("heartbeatMs", minimum: 1),
            ackDelayMs: try reader.requiredInteger("ackDelayMs"),
            window: try reader.requiredInteger("window", minimum: 1),
            maxFrameBytes: try reader.requiredInteger("maxFrameBytes", minimum: 1024)
        )
    }

    static func event(_ reader: JSONObjectReader) throws(EventAckError) -> Event {
        let seq = try reader.requiredSeq()
        do throws(EventAckError) {
            let payloadSpan = try reader.required("payload")
            guard payloadSpan.kind == .object else { throw reader.invalid("payload", "\"payload\" must be an object") }
            return Event(
                seq: seq,
                run: try reader.requiredIdentifier("run"),
                kind: try reader.requiredIdentifier("kind"),
                ts: try reader.requiredInteger("ts"),
                confirm: try reader.requiredLevel("confirm"),
                attempt: try reader.requiredInteger("attempt", minimum: 1),
                payload: Payload(span: payloadSpan, in: reader.bytes),
                endsRun: try reader.optionalBool("endsRun") ?? false
            )
        } catch {
            // The seq was readable: a client can nack exactly this event as undecodable (EA-EVT-6).
            var withSeq = error
            withSeq.seq = seq
            throw withSeq
        }
    }

    static func ack(_ reader: JSONObjectReader) throws(EventAckError) -> Ack {
        let receipt = try reader.optionalObject("receipt").map { r throws(EventAckError) in try ackSet(r) }
        let display = try reader.optionalObject("display").map { r throws(EventAckError) in try ackSet(r) }
        var values: [ValueConfirmation]?
        if let valueSpan = try reader.optional("value") {
            let path = reader.memberPath("value")
            let items = try JSONArrayReader.elements(
                valueSpan, in: reader.bytes, limit: ProtocolLimits.maxValueConfirmations, path: path)
            var confirmations: [ValueConfirmation] = []
            confirmations.reserveCapacity(items.count)
            var seen = Set<Seq>(minimumCapacity: items.count > 8 ? items.count : 0)
            for (index, item) in items.enumerated() {
                guard item.kind == .object else {
                    throw EventAckError(
                        code: .invalidMessage, message: "a value item must be an object",
                        path: path.appending(index: index).description)
                }
                let itemReader = try JSONObjectReader(
                    object: item, in: reader.bytes, path: path.appending(index: index))
                let confirmation = ValueConfirmation(
                    seq: try itemReader.requiredSeq(),
                    signal: try itemReader.optionalIdentifier("signal"),
                    score: try itemReader.optionalDouble("score")
                )
                let duplicate =
                    items.count > 8
                    ? !seen.insert(confirmation.seq).inserted
                    : confirmations.contains { $0.seq == confirmation.seq }
                guard !duplicate else {
                    throw EventAckError(
                        code: .invalidAck, message: "seq \(confirmation.seq) is confirmed twice",
                        path: itemReader.memberPath("seq").description, seq: confirmation.seq)
                }
                confirmations.append(confirmation)
            }
            values = confirmations
        }
        guard receipt != nil || display != nil || values != nil else {
            throw EventAckError(
                code: .invalidMessage, message: "an ack needs \"receipt\", \"display\" or \"value\"",
                path: "$")
        }
        return Ack(receipt: receipt, display: display, value: values)
    }

    static func nack(_ reader: JSONObjectReader) throws(EventAckError) -> Nack {
        Nack(
            seq: try reader.requiredSeq(),
            level: try reader.requiredLevel("level"),
            reason: NackReason(rawValue: try reader.requiredIdentifier("reason")),
            detail: try reader.optionalText("detail")
        )
    }

    static func synced(_ reader: JSONObjectReader) throws(EventAckError) -> Synced {
        Synced(
            receipt: try reader.optionalObject("receipt").map { r throws(EventAckError) in try ackSet(r) },
            display: try reader.optionalObject("display").map { r throws(EventAckError) in try ackSet(r) },
            value: try reader.optionalObject("value").map { r throws(EventAckError) in try ackSet(r) }
        )
    }

    static func progress(_ reader: JSONObjectReader) throws(EventAckError) -> Progress {
        Progress(
            run: try reader.requiredIdentifier("run"),
            ts: try reader.requiredInteger("ts"),
            note: try reader.optionalText("note")
        )
    }

    static func errorMessage(_ reader: JSONObjectReader) throws(EventAckError) -> ErrorMessage {
        let seqSpan = try reader.optional("seq")
        return ErrorMessage(
            code: ErrorCode(rawValue: try reader.requiredIdentifier("code")),
            message: try reader.requiredText("message"),
            fatal: try reader.requiredBool("fatal"),
            seq: try seqSpan.map { span throws(EventAckError) in try reader.integer(span, "seq", minimum: 1) }
        )
    }

    /// An ack set in canonical form (EA-ACK-2) with at most 64 ranges (EA-ACK-4).
    static func ackSet(_ reader: JSONObjectReader) throws(EventAckError) -> AckSet {
        let upTo = try reader.requiredInteger("upTo")
        guard let rangesSpan = try reader.optional("ranges") else { return AckSet(upTo: upTo) }
        let path = reader.memberPath("ranges")
        let ranges = try rangePairs(rangesSpan, in: reader.bytes, path: path)
        if let violation = AckSet.canonicalViolation(upTo: upTo, ranges: ranges) {
            let violationPath = violation.rangeIndex.map { path.appending(index: $0) } ?? reader.memberPath("upTo")
            throw EventAckError(code: .invalidAck, message: violation.reason, path: violationPath.description)
        }
        return try AckSet(upTo: upTo, ranges: ranges)
    }

    /// The `[lo, hi]` pairs of a `ranges` array, read in place without materialising nested arrays (the hot part of
    /// decoding an ack). The span was validated by the scanner, so only shapes and values are checked here.
    static func rangePairs(
        _ span: JSONSpan,
        in bytes: UnsafeBufferPointer<UInt8>,
        path: JSONPath
    ) throws(EventAckError) -> [ClosedRange<Seq>] {
        guard span.kind == .array else {
            throw EventAckError(code: .invalidMessage, message: "\"ranges\" must be an array", path: path.description)
        }
        var scanner = JSONScanner(bytes)
        scanner.index = span.start + 1
        var ranges: [ClosedRange<Seq>] = []
        func shapeError(_ index: Int) -> EventAckError {
            EventAckError(
                code: .invalidMessage, message: "a range must be [lo, hi] with integers in 1...2^53-1",
                path: path.appending(index: index).description)
        }
        scanner.skipWhitespace()
        if bytes[scanner.index] == UInt8(ascii: "]") { return ranges }
        while true {
            let index = ranges.count
            if index == ProtocolLimits.maxAckRanges {
                throw EventAckError(
                    code: .tooManyRanges, message: "more than \(ProtocolLimits.maxAckRanges) ranges",
                    path: path.description)
            }
            guard bytes[scanner.index] == UInt8(ascii: "[") else { throw shapeError(index) }
            scanner.index += 1
            scanner.skipWhitespace()
            guard bytes[scanner.index] != UInt8(ascii: "]"), let lowSpan = try? scanner.scanValue(depth: 1) else {
                throw shapeError(index)
            }
            scanner.skipWhitespace()
            guard bytes[scanner.index] == UInt8(ascii: ",") else { throw shapeError(index) }
            scanner.index += 1
            scanner.skipWhitespace()
            guard let highSpan = try? scanner.scanValue(depth: 1) else { throw shapeError(index) }
            scanner.skipWhitespace()
            guard bytes[scanner.index] == UInt8(ascii: "]"), let low = JSONText.unsignedInteger(lowSpan, in: bytes),
                let high = JSONText.unsignedInteger(highSpan, in: bytes), low >= 1
            else { throw shapeError(index) }
            guard low <= high else {
                throw EventAckError(
                    code: .invalidAck, message: "range [\(low),\(high)] has lo > hi",
                    path: path.appending(index: index).description)
            }
            ranges.append(low...high)
            scanner.index += 1
            scanner.skipWhitespace()
            if bytes[scanner.index] == UInt8(ascii: "]") { return ranges }
            scanner.index += 1  // the comma
            scanner.skipWhitespace()
        }
    }
}
