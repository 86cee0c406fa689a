import EventAckClient
import Testing

@testable import EventAckNIOClient

/// The transport's URL handling and its refusals, without a server.
@Suite("WebSocket client transport")
struct WebSocketClientTransportTests {
    @Test("a ws:// URL gives host, port, path with its query, and the Host header")
    func target() throws {
        let target = try WebSocketTarget("ws://example.test:8080/eventack?x=1")
        #expect(target.host == "example.test")
        #expect(target.port == 8080)
        #expect(target.path == "/eventack?x=1")
        #expect(target.hostHeader == "example.test:8080")
        #expect(!target.isSecure)
        #expect(try WebSocketTarget("ws://example.test").port == 80)
        #expect(try WebSocketTarget("ws://example.test").path == "/")
    }

    @Test("URLs it cannot open are refused with UnsupportedURL, before any connection")
    func unsupported() {
        for url in ["http://example.test/", "example.test", "ws:///eventack"] {
            #expect(throws: UnsupportedURL.self) { try WebSocketTarget(url) }
        }
        #expect((try? WebSocketTarget("wss://example.test")) != nil || !WebSocketTLS.isAvailable)
    }

    @Test("connecting to a port where nothing listens fails, it does not hang")
    func nothingListening() async {
        let transport = WebSocketClientTransport(url: "ws://127.0.0.1:1/eventack", token: "t")
        await #expect(throws: (any Error).self) { _ = try await transport.connect(handingFramesTo: InboundFrames()) }
    }
}
