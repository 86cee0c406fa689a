import AsyncHTTPClient
import EventAckProtocol
import EventAckPublish
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import OpenAPIRuntime
import Synchronization

/// Runs configured AG-UI agents and relays each run's stream into it (issue 26, § 13.1 of the spec): posts the
/// run's `RunAgentInput` to the agent with `Accept: text/event-stream`, reads the Server-Sent Events with
/// async-http-client and swift-openapi-runtime's parser (mattt/EventSource's needs URLSession's byte streams, which
/// Linux's Foundation lacks), and publishes each event through the publish endpoint as
/// ``AGUIStream`` says — checked against the `ag-ui` profile first, with ids the gateway assigns, waiting when the
/// user's window is full. The run goes on while the user's browser is away; the user resumes with what it missed.
///
/// Bounded: a connect timeout, a read timeout (an agent silent that long ends the run `agent_stream_failed`; it is
/// shorter than the run's idle timeout, so this reason wins), events over the frame limit refused by the publish API
/// like any other, and a cap on the agent runs going on at once. Only configured agents are run. If this node dies,
/// the stream dies with it: the node that adopts the session ends the run when its idle timeout passes (EA-RUN-2).
final class AGUIGateway: AgentGateway {
    /// A configured agent.
    struct Agent: Sendable {
        var url: String
        var headers: [(String, String)]
    }

    private let agents: [String: Agent]
    /// The configured agents' names.
    var agentNames: [String] { agents.keys.sorted() }
    private let client: HTTPClient
    private let logger: Logger
    private let maxRunsPerUser: Int
    /// The largest event the publish API takes (the frame limit).
    private let maxEventBytes: Int
    /// Agent runs going on, by user (or session, for a run addressed to one).
    private let running = Mutex<[String: Int]>([:])
    /// Set once the endpoint exists (it holds this gateway): where the events are published.
    private let endpoint = Mutex<PublishEndpoint?>(nil)

    /// A gateway for `agents` (name → URL and headers), reading each stream with `readTimeoutMs` between events, at
    /// most `maxRunsPerUser` runs at once for one user.
    init(agents: [String: Agent], readTimeoutMs: Int64, maxRunsPerUser: Int, maxEventBytes: Int, logger: Logger) {
        self.agents = agents
        self.maxEventBytes = maxEventBytes
        self.logger = logger
        self.maxRunsPerUser = maxRunsPerUser
        var configuration = HTTPClient.Configuration()
        configuration.timeout = .init(connect: .seconds(5), read: .milliseconds(readTimeoutMs))
        client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
    }

    /// Reads `--ag-ui-agents-file`: a JSON object from names to `{"url": URL, "headers": {NAME: VALUE}}`.
    static func agents(fromFile path: String) throws -> [String: Agent] {
        let text = try String(contentsOfFile: path, encoding: .utf8)
        guard case .object(let entries) = try JSONValue(parsingObject: text) else { return [:] }
        var agents: [String: Agent] = [:]
        for (name, entry) in entries {
            guard case .string(let url)? = entry["url"], let parsed = URL(string: url),
                ["http", "https"].contains(parsed.scheme)
            else { throw GatewayConfigurationError(entry: name) }
            var headers: [(String, String)] = []
            if case .object(let members)? = entry["headers"] {
                for (header, value) in members { if case .string(let text) = value { headers.append((header, text)) } }
            }
            agents[name] = Agent(url: url, headers: headers)
        }
        return agents
    }

    /// Parses `--ag-ui-agents name=url,…`.
    static func agents(from text: String) throws -> [String: Agent] {
        var agents: [String: Agent] = [:]
        for entry in text.split(separator: ",") where !entry.isEmpty {
            let parts = entry.split(separator: "=", maxSplits: 1).map(String.init)
            guard parts.count == 2, let url = URL(string: parts[1]), ["http", "https"].contains(url.scheme) else {
                throw GatewayConfigurationError(entry: String(entry))
            }
            agents[parts[0]] = Agent(url: parts[1], headers: [])
        }
        return agents
    }

    struct GatewayConfigurationError: Error, CustomStringConvertible {
        var entry: String
        var description: String { "an AG-UI agent is name=http(s)://host:port/path, not \(entry)" }
    }

    func attach(_ endpoint: PublishEndpoint) { self.endpoint.withLock { $0 = endpoint } }

    func offers(_ agent: String) -> Bool { agents[agent] != nil }

    func start(_ invocation: AgentInvocation, run: String, for audience: RunAudience) {
        guard let agent = agents[invocation.name], let endpoint = endpoint.withLock({ $0 }) else { return }
        let input = invocation.input(forRun: run)
        let user: String
        switch audience {
        case .principal(let principal): user = "user:" + principal
        case .session(let session): user = "session:" + session.rawValue
        }
        Task {
            var stream = AGUIStream(run: run)
            let admitted = running.withLock { running in
                guard running[user, default: 0] < maxRunsPerUser else { return false }
                running[user, default: 0] += 1
                return true
            }
            guard admitted else {
                await publish(
                    stream.agentFailed("too many agent runs at once for this user"), run, endpoint, stream: &stream)
                return
            }
            await relay(agent, input: input, into: &stream, endpoint: endpoint)
            running.withLock { running in
                running[user, default: 1] -= 1
                if running[user] == 0 { running[user] = nil }
            }
        }
    }

    /// Posts the input and relays the stream until the run is over.
    private func relay(_ agent: Agent, input: JSONValue, into stream: inout AGUIStream, endpoint: PublishEndpoint) async
    {
        let run = stream.run
        do {
            var request = HTTPClientRequest(url: agent.url)
            request.method = .POST
            request.headers.add(name: "Content-Type", value: "application/json")
            request.headers.add(name: "Accept", value: "text/event-stream")
            for (name, value) in agent.headers { request.headers.add(name: name, value: value) }
            request.body = .bytes(ByteBuffer(string: input.jsonText))
            let response = try await client.execute(request, timeout: .hours(24))
            guard response.status == .ok else {
                await publish(
                    stream.agentFailed("the agent answered HTTP \(response.status.code)"), run, endpoint,
                    stream: &stream)
                return
            }
            // Bounded before it is parsed: the parser holds a line until it ends, and an agent could send one
            // without end. Twice the frame limit is more than any event the publish API takes.
            let chunks = BoundedLines(body: response.body, maxLineBytes: 2 * maxEventBytes)
            for try await event in chunks.asDecodedServerSentEvents() {
                guard let data = event.data else { continue }  // a comment or a keepalive
                guard await publish(stream.received(data), run, endpoint, stream: &stream) else { return }
            }
            await publish(stream.streamEnded(), run, endpoint, stream: &stream)
        } catch {
            logger.notice(
                "AG-UI agent stream failed",
                metadata: ["run": "\(run)", "error": "\(DisplayText.escaping("\(error)"))"])
            await publish(stream.agentFailed("the agent's stream failed: \(error)"), run, endpoint, stream: &stream)
        }
    }

    /// Publishes what `action` says, retrying while the session is full or the store away; an event the publish API
    /// refuses (over the frame limit, say) ends the run with its code. Whether to go on reading.
    @discardableResult
    private func publish(
        _ action: AGUIStream.Action, _ run: String, _ endpoint: PublishEndpoint, stream: inout AGUIStream
    ) async -> Bool {
        let reply = await publish(action, run, endpoint)
        guard case .publish = action, let reply, reply.status == 400 else {
            return reply?.status == 200 && !action.ends
        }
        let code = (try? JSONValue(parsingObject: reply.body))?["error"].flatMap { value -> String? in
            if case .string(let text) = value { return text } else { return nil }
        }
        await publish(stream.refused(code ?? "invalid_message", reply.body), run, endpoint)
        return false
    }

    /// Publishes what `action` says, retrying while the session is full or the store away; the last answer (`nil`
    /// when there was nothing to publish).
    @discardableResult
    private func publish(_ action: AGUIStream.Action, _ run: String, _ endpoint: PublishEndpoint) async
        -> PublishReply?
    {
        let event: JSONValue
        switch action {
        case .publish(_, let next): event = next
        case .fail(let reason, let next):
            logger.notice("AG-UI run ended by the gateway", metadata: ["run": "\(run)", "reason": "\(reason)"])
            event = next
        case .finished, .ignore: return nil
        }
        let body = AGUIStream.requestBody(publishing: event)
        var reply = PublishReply(status: 503, body: "")
        for attempt in 0..<120 {
            reply = await endpoint.perform(.events(run: run, body: body, waitMs: PublishService.maxWaitMs))
            guard reply.status == 429 || reply.status == 503 else { break }
            try? await Task.sleep(for: .milliseconds(min(250 * (attempt + 1), 2_000)))
        }
        if reply.status != 200 {
            // The run ended (its producer was silent too long, say) or refused the event.
            logger.notice("AG-UI event refused", metadata: ["run": "\(run)", "status": "\(reply.status)"])
        }
        return reply
    }

    func shutdown() async { try? await client.shutdown() }
}

extension AGUIStream.Action {
    /// Whether publishing this ends the run's relay.
    var ends: Bool {
        switch self {
        case .publish, .ignore: false
        case .fail, .finished: true
        }
    }
}

/// An agent's response body as byte chunks for the SSE parser, refusing a line longer than `maxLineBytes`
/// (``LineTooLong``): the parser buffers a line until it ends.
struct BoundedLines: AsyncSequence, Sendable {
    typealias Element = ArraySlice<UInt8>
    let body: HTTPClientResponse.Body
    let maxLineBytes: Int

    /// An agent sent a line longer than the bound.
    struct LineTooLong: Error, CustomStringConvertible {
        var maxLineBytes: Int
        var description: String { "the agent sent a line of over \(maxLineBytes) bytes" }
    }

    struct AsyncIterator: AsyncIteratorProtocol {
        var chunks: HTTPClientResponse.Body.AsyncIterator
        let maxLineBytes: Int
        /// Bytes since the last line feed.
        var lineBytes = 0

        mutating func next() async throws -> ArraySlice<UInt8>? {
            guard let buffer = try await chunks.next() else { return nil }
            let bytes = ArraySlice(buffer.readableBytesView)
            if let last = bytes.lastIndex(of: UInt8(ascii: "\n")) {
                lineBytes = bytes.endIndex - last - 1
            } else {
                lineBytes += bytes.count
            }
            guard lineBytes <= maxLineBytes else { throw LineTooLong(maxLineBytes: maxLineBytes) }
            return bytes
        }
    }

    func makeAsyncIterator() -> AsyncIterator {
        AsyncIterator(chunks: body.makeAsyncIterator(), maxLineBytes: maxLineBytes)
    }
}
