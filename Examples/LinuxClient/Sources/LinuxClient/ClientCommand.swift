import ArgumentParser
import EventAckClient
import EventAckProtocol
import Foundation

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// `eventack-client`: connects to an EventAck server with a bearer token, starts agent runs, prints events as they
/// arrive, marks them displayed, confirms (or rejects) the value of completed runs, shows stalls and errors, and
/// reconnects and resumes when the connection drops.
@main
struct ClientCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eventack-client", abstract: "An EventAck client for the agent server.",
        subcommands: [RunCommand.self, BenchCommand.self], defaultSubcommand: RunCommand.self)
}

/// Where the server is and who we are.
struct ServerOptions: ParsableArguments {
    @Option(help: "The server's WebSocket URL.")
    var url = "ws://127.0.0.1:8080/eventack"

    @Option(help: "The bearer token (a principal of the server's token table).")
    var token = "alice-token"

    /// The HTTP base of the same server: `ws://host:port/eventack` gives `http://host:port`.
    var httpBase: String {
        guard var components = URLComponents(string: url) else { return url }
        components.scheme = components.scheme == "wss" ? "https" : "http"
        components.path = ""
        return components.string ?? url
    }

    /// POSTs JSON with the bearer token; returns the body, or throws with the status.
    func post(_ path: String, _ body: [String: any Sendable]) async throws -> Data {
        var request = URLRequest(url: URL(string: httpBase + path)!)
        request.httpMethod = "POST"
        request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization")
        request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        request.httpBody = try JSONSerialization.data(withJSONObject: body)
        request.timeoutInterval = 600
        let (data, response) = try await URLSession.shared.data(for: request)
        guard let http = response as? HTTPURLResponse, (200..<300).contains(http.statusCode) else {
            throw ValidationError("POST \(path) failed: \(String(decoding: data, as: UTF8.self))")
        }
        return data
    }
}
