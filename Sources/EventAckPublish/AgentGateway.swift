@_spi(Shell) import EventAckProtocol
import EventAckReconciler

/// A run whose events come from an AG-UI agent the server runs (`POST /v1/runs` with `"agent"`; issue 26): the
/// agent's configured name and the `RunAgentInput` to post to it.
public struct AgentInvocation: Sendable, Hashable {
    /// The agent's name, as the server's configuration lists it.
    public var name: String
    /// The `RunAgentInput` posted to the agent (AG-UI's `threadId`, `runId`, `messages`, `state`…), as given.
    public var input: JSONValue

    /// The `agent` member of an open request's body, if it has one.
    ///
    /// - Throws: 400 at `$.agent` for one that is not `{"name": NAME, "input": {…}}`.
    public init?(body: String) throws(PublishError) {
        guard let object = try? JSONValue(parsingObject: body), let agent = object["agent"] else { return nil }
        guard case .object = agent, case .string(let name)? = agent["name"], RunName.isValid(name) else {
            throw .invalid("agent must be {\"name\": NAME, \"input\": {RunAgentInput}}", at: "$.agent")
        }
        switch agent["input"] {
        case nil: input = .object([])
        case .object(let members)?: input = .object(members)
        default: throw .invalid("agent.input must be a JSON object (AG-UI's RunAgentInput)", at: "$.agent.input")
        }
        self.name = name
    }

    /// The input with the run's ids written in (AG-UI's `threadId` and `runId`, when the caller gave none) and the
    /// members AG-UI requires defaulted, so that an agent built on AG-UI's models accepts it.
    public func input(forRun run: String) -> JSONValue {
        guard case .object(var members) = input else { return input }
        let defaults: [(String, JSONValue)] = [
            ("threadId", .string(run)), ("runId", .string(run)), ("state", .object([])), ("messages", .array([])),
            ("tools", .array([])), ("context", .array([])), ("forwardedProps", .object([])),
        ]
        for (key, value) in defaults where !members.contains(where: { $0.key == key }) {
            members.append((key, value))
        }
        return .object(members)
    }
}

/// What runs AG-UI agents for the publish API: a server configures agents by name (URL, headers) and relays each
/// run's stream into it (``AGUIStream`` has the rules). Only configured agents are run: no open proxy.
public protocol AgentGateway: Sendable {
    /// Whether an agent of this name is configured.
    func offers(_ agent: String) -> Bool
    /// Starts `invocation` for `run`, opened already for `audience`; returns at once: the agent's stream is relayed
    /// into the run until it ends.
    func start(_ invocation: AgentInvocation, run: String, for audience: RunAudience)
}
