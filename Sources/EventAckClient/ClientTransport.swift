/// Opens connections to an EventAck server. Implement it over any ordered, message-framed channel (a WebSocket
/// with subprotocol `eventack.v1`); `Examples/` has one over swift-websocket.
public protocol ClientTransport: Sendable {
    /// Opens a new connection, or throws when the server cannot be reached.
    func connect() async throws -> any ClientConnection
}

/// One open connection: text frames both ways.
public protocol ClientConnection: Sendable {
    /// The frames received, in order; finishes (or throws) when the connection ends.
    var inbound: AsyncThrowingStream<String, any Error> { get }
    /// Sends one text frame.
    func send(_ text: String) async throws
    /// Closes the connection; `inbound` finishes.
    func close() async
}
