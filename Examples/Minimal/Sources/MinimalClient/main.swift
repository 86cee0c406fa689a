import EventAckClient
import EventAckNIOClient

// An app that consumes EventAck: connects as alice, shows each event of one run (confirming display where asked),
// then closes once the server has echoed every confirmation. Usage: MinimalClient [URL]
let url = CommandLine.arguments.dropFirst().first ?? "ws://127.0.0.1:8080/eventack"
let client = EventAckClient(transport: WebSocketClientTransport(url: url, token: "alice-token"))
await client.start()

for await delivery in client.events {
    let event = delivery.event
    print("event \(event.seq) \(event.kind) \(event.payload)")
    if event.confirm >= .display { try await client.markDisplayed(event.seq) }
    if event.endsRun { break }
}

let report = await client.close()
print(report.isComplete ? "closed: every confirmation echoed by the server" : "closed: NOT confirmed")
