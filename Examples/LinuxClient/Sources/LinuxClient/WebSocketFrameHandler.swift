import NIOCore
import NIOWebSocket

/// The channel handler behind ``WebSocketClientTransport``, after the upgrade: hands each text message to the
/// client, answers pings, and does the close handshake (RFC 6455 § 5.5). Runs on the channel's event loop.
final class WebSocketFrameHandler: ChannelInboundHandler {
    typealias InboundIn = WebSocketFrame
    typealias OutboundOut = WebSocketFrame

    /// Where received text goes.
    struct Inbound: Sendable {
        /// Hands over a message; `false` when nobody reads any more (or too much waits): the connection is cut.
        let receive: @Sendable (String) -> Bool
        /// The connection ended, with the error that ended it if any.
        let end: @Sendable ((any Error)?) -> Void
    }

    /// Sent through the pipeline by ``WebSocketConnection/close()``: start the close handshake.
    struct CloseRequested: Sendable {}

    /// How long the server has to answer our close frame before the connection is closed anyway.
    static let closeGrace = TimeAmount.seconds(2)

    private let inbound: Inbound
    private var closeSent = false
    private var failure: (any Error)?

    init(_ inbound: Inbound) {
        self.inbound = inbound
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        switch frame.opcode {
        case .text where !closeSent:
            // Server frames are not masked; `unmaskedData` is the payload either way.
            if !inbound.receive(String(buffer: frame.unmaskedData)) { context.close(promise: nil) }
        case .ping where !closeSent:
            send(.pong, frame.unmaskedData, context: context)
        case .connectionClose:
            if closeSent {
                context.close(promise: nil)
            } else {
                // Echo the server's status code, then close (§ 5.5.1).
                var data = frame.unmaskedData
                let code = data.readSlice(length: min(2, data.readableBytes)) ?? ByteBuffer()
                closeSent = true
                send(.connectionClose, code, context: context, then: { context.close(promise: nil) })
            }
        default:
            break  // binary messages are not EventAck's; pongs answer nothing we sent
        }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        guard event is CloseRequested else {
            context.fireUserInboundEventTriggered(event)
            return
        }
        guard !closeSent, context.channel.isActive else { return }
        closeSent = true
        var code = context.channel.allocator.buffer(capacity: 2)
        code.write(webSocketErrorCode: .normalClosure)
        send(.connectionClose, code, context: context)
        context.eventLoop.assumeIsolated().scheduleTask(in: Self.closeGrace) { context.close(promise: nil) }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        failure = failure ?? error
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        inbound.end(failure)
        context.fireChannelInactive()
    }

    /// Writes one masked frame (a client masks every frame, § 5.3).
    private func send(
        _ opcode: WebSocketOpcode, _ data: ByteBuffer, context: ChannelHandlerContext, then: (() -> Void)? = nil
    ) {
        let frame = WebSocketFrame(fin: true, opcode: opcode, maskKey: .random(), data: data)
        let written = context.writeAndFlush(wrapOutboundOut(frame))
        if let then { written.assumeIsolated().whenComplete { _ in then() } }
    }
}

extension WebSocketFrame {
    /// A masked text frame, as a client sends it.
    static func text(_ text: String, allocator: ByteBufferAllocator) -> WebSocketFrame {
        WebSocketFrame(fin: true, opcode: .text, maskKey: .random(), data: allocator.buffer(string: text))
    }
}
