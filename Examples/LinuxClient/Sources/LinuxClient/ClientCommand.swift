import ArgumentParser
import EventAckClient
import EventAckNIOClient
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
        subcommands: [RunCommand.self, BenchCommand.self, ListenCommand.self], defaultSubcommand: RunCommand.self)
}

/// Where the server is and who we are.
struct ServerOptions: ParsableArguments {
    @Option(
        help: """
            The server's WebSocket URL; several, separated by commas, for the nodes of a cluster: the client fails \
            over to the next when a connection fails, and resumes its session there.
            """)
    var url = "ws://127.0.0.1:8080/eventack"

    @Option(help: "The node (WebSocket or HTTP URL) to start runs on; by default the first of --url.")
    var runsUrl: String?

    /// Every node's WebSocket URL, in the order tried.
    var urls: [String] { url.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) } }

    @Option(help: "The bearer token (a principal of the server's token table).")
    var token = "alice-token"

    @Option(help: "For wss:// (a build with --traits TLS): a PEM file of the CAs to trust instead of the system's.")
    var caFile: String?

    /// The transport to one node.
    func transport(to url: String) -> WebSocketClientTransport {
        WebSocketClientTransport(url: url, token: token, caFile: caFile)
    }

    /// Refuses at once a URL the WebSocket transport cannot open, rather than retrying it for ever.
    func validate() throws {
        for url in urls {
            do { try WebSocketClientTransport.validate(url: url) } catch { throw ValidationError("\(error)") }
        }
    }

    /// The HTTP base of the first server: `ws://host:port/eventack` gives `http://host:port`.
    var httpBase: String { Self.httpBase(of: urls.first ?? url) }

    /// The HTTP base of a WebSocket (or HTTP) URL.
    static func httpBase(of url: String) -> String {
        guard var components = URLComponents(string: url) else { return url }
        components.scheme = ["wss", "https"].contains(components.scheme) ? "https" : "http"
        components.path = ""
        return components.string ?? url
    }

    /// POSTs JSON with the bearer token to the runs node (or, if it cannot be reached, the next node); returns the
    /// body, or throws with the status.
    func post(_ path: String, _ body: [String: any Sendable]) async throws -> Data {
        let bases = ([runsUrl].compactMap { $0 } + urls).map(Self.httpBase(of:))
        var lastError: (any Error)?
        for base in bases {
            do {
                return try await post(path, body, base: base)
            } catch let error as ValidationError {
                throw error
            } catch {
                lastError = error
            }
        }
        throw lastError ?? ValidationError("no server to POST \(path) to")
    }

    private func post(_ path: String, _ body: [String: any Sendable], base: String) async throws -> Data {
        var request = URLRequest(url: URL(string: base + path)!)
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
