@_spi(Shell) import EventAckProtocol
import EventAckReconciler

/// An AG-UI agent's event stream as a gateway relays it into an EventAck run (§ 13.1 of the spec; issue 26), with no
/// I/O: the shell reads the agent's Server-Sent Events and hands each event's data here, and publishes what this
/// answers. Each AG-UI event becomes an event of the run — kind its `type`, payload the event — with an id the gateway
/// assigns (the run and the event's place in the stream, so that a retried publish is recognised), checked against the
/// `ag-ui` profile **before** it is published: an event the profile refuses is not published, and the run ends with a
/// `RUN_ERROR` of the server's. So does a stream that ends before `RUN_FINISHED` or `RUN_ERROR`, an agent that answers
/// an HTTP error, or one whose stream stays silent past the read timeout (`agent_stream_failed`).
public struct AGUIStream: Sendable {
    /// What to do with what the agent sent.
    public enum Action: Sendable, Equatable {
        /// Publish this event (a member of a publish request's `events`, as JSON).
        case publish(id: String, event: JSONValue)
        /// The run is over and sound: nothing more to read.
        case finished
        /// The agent broke the run: publish this `RUN_ERROR` of the server's (it ends the run) and stop reading.
        case fail(reason: String, event: JSONValue)
        /// Nothing to publish (an event after the run ended is dropped: the stream is over).
        case ignore
    }

    /// The run the events go to.
    public let run: String

    /// The body of the publish request that carries `event` (an action's), alone.
    public static func requestBody(publishing event: JSONValue) -> String {
        JSONValue.object([("events", .array([event]))]).jsonText
    }
    private var checker: RunChecker
    private var position = 0
    private var over = false

    /// A stream into `run`, checked against `profile` (AG-UI's unless told otherwise).
    public init(run: String, profile: RunProfile = .agUI) {
        self.run = run
        checker = RunChecker(profile: profile)
    }

    /// Why a run ended that the agent did not end itself.
    public enum Reason {
        /// The agent answered an HTTP error, closed its stream before a terminal event, or went silent past the read
        /// timeout.
        public static let streamFailed = "agent_stream_failed"
    }

    /// One SSE event's `data`: an AG-UI event as JSON.
    public mutating func received(_ data: String) -> Action {
        guard !over else { return .ignore }
        guard let event = try? JSONValue(parsingObject: data), case .string(let type)? = event["type"] else {
            return fail(Reason.streamFailed, "the agent sent an event that is not an AG-UI event (no type)")
        }
        guard let payload = Payload(parsedObject: event) else {
            return fail(Reason.streamFailed, "the agent sent an event that is not a JSON object")
        }
        let broken = checker.check(kind: type, payload: payload)
        if let first = broken.first { return fail(first.code, "the agent broke the AG-UI run: \(first.detail)") }
        position += 1
        if checker.hasEnded { over = true }
        return .publish(
            id: "\(run):\(position)",
            event: .object([("id", .string("\(run):\(position)")), ("kind", .string(type)), ("payload", event)]))
    }

    /// The agent's stream ended: a failure unless the run had ended.
    public mutating func streamEnded() -> Action {
        guard !over else { return .finished }
        return fail(Reason.streamFailed, "the agent's stream ended before RUN_FINISHED or RUN_ERROR")
    }

    /// The agent answered `status` instead of a stream, could not be reached, or went silent past the read timeout.
    public mutating func agentFailed(_ message: String) -> Action {
        guard !over else { return .ignore }
        return fail(Reason.streamFailed, message)
    }

    /// The publish API refused an event the stream passed (over the frame limit, say) with `code`: the run ends.
    public mutating func refused(_ code: String, _ message: String) -> Action {
        fail(code, "the agent sent an event the server refused: \(message)")
    }

    /// Ends the run with the server's `RUN_ERROR` (its payload as AG-UI writes one: `message`, `code`).
    private mutating func fail(_ reason: String, _ message: String) -> Action {
        over = true
        let id = "\(run):error"
        let payload: JSONValue = .object([
            ("type", .string("RUN_ERROR")), ("message", .string(message)), ("code", .string(reason)),
            ("error", .string(message)), ("reason", .string(reason)),
        ])
        return .fail(
            reason: reason,
            event: .object([
                ("id", .string(id)), ("kind", .string("RUN_ERROR")), ("payload", payload), ("endsRun", .bool(true)),
            ]))
    }
}
