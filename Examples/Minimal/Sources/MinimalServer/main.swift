import EventAckHummingbird
import EventAckProtocol
import EventAckReconciler
import Foundation
import Hummingbird

// An app that serves EventAck: WebSocket at /eventack for alice, and a pretend agent that streams a short run into
// every new session, then prints each run's verdict. Usage: MinimalServer [PORT]
let port = CommandLine.arguments.dropFirst().first.flatMap(Int.init) ?? 8080
func say(_ line: String) { FileHandle.standardOutput.write(Data((line + "\n").utf8)) }
let service = ReconcilerService()

/// The agent: one run of three events into `session`.
func answer(in session: SessionID) throws {
    let run = "run_\(session.rawValue)"
    try service.emit(run: run, kind: "agent_started", to: session)
    try service.emit(run: run, kind: "agent_thinking", payload: Payload(json: #"{"text":"Looking"}"#), to: session)
    try service.emit(
        run: run, kind: "agent_completed", payload: Payload(json: #"{"result":"42"}"#), confirm: .display, to: session)
}

let agent = Task {
    for await event in service.events {
        switch event {
        case .sessionOpened(let session, _, _, resumed: false):
            do { try answer(in: session) } catch { say("could not emit: \(error)") }
        case .runFinished(let report):
            say("run \(report.run): \(report.verdict.rawValue)")
        default:
            break
        }
    }
}

let app = Application(
    router: Router(),
    server: EventAckWebSocket.serverBuilder(service: service, authenticator: try TokenTable("alice-token=alice")),
    configuration: .init(address: .hostname("127.0.0.1", port: port)),
    onServerRunning: { say("minimal server listening on \($0.localAddress?.port ?? 0)") }
)
try await app.runService()
