import EventAckClient
import NIOCore
import NIOWebSocket

/// The channel handler behind ``WebSocketClientTransport``, after the upgrade: hands each text message to the
/// client, puts fragmented ones together (RFC 6455 § 5.4), answers pings, and does the close handshake (§ 5.5).
/// Runs on the channel's event loop.
///
/// It reassembles fragments itself rather than behind SwiftNIO's `NIOWebSocketFrameAggregator`, which handled every
/// frame — nearly all of them whole messages — at a cost of ~7 % of the client's CPU at high rates.
final class WebSocketFrameHandler: ChannelInboundHandler {
    typealias InboundIn = WebSocketFrame
    typealias OutboundOut = WebSocketFrame

    /// Sent through the pipeline by ``WebSocketConnection/close()``: start the close handshake.
    struct CloseRequested: Sendable {}

    /// How long the server has to answer our close frame before the connection is closed anyway.
    static let closeGrace = TimeAmount.seconds(2)

    /// A message's fragments broke the rules: one began inside another, a continuation had none to continue, or
    /// the message outgrew the limit.
    struct FragmentationError: Error, CustomStringConvertible {
        var description: String
    }

    /// Where received text goes, straight from the event loop: the client's hand-over.
    private let inbound: InboundFrames
    /// The largest message accepted, fragments included.
    private let maxMessageBytes: Int
    /// The fragments so far of a message in progress, and whether it is text.
    private var fragments: (data: ByteBuffer, isText: Bool)?
    private var closeSent = false
    private var failure: (any Error)?

    init(_ inbound: InboundFrames, maxMessageBytes: Int) {
        self.inbound = inbound
        self.maxMessageBytes = maxMessageBytes
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        switch frame.opcode {
        case .text, .binary, .continuation:
            guard let (message, isText) = assemble(frame, context: context), isText, !closeSent else { return }
            if !inbound.receive(String(buffer: message)) { context.close(promise: nil) }
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
            break  // pongs answer nothing we sent
        }
    }

    /// The message `frame` completes, if it does, and whether it is text (binary messages are not EventAck's).
    private func assemble(_ frame: WebSocketFrame, context: ChannelHandlerContext) -> (ByteBuffer, Bool)? {
        // Server frames are not masked; `unmaskedData` is the payload either way.
        if frame.opcode == .continuation {
            guard var message = fragments else { return fail("a continuation without a message", context) }
            fragments = nil  // appended to uniquely, not copied
            var data = frame.unmaskedData
            guard message.data.readableBytes + data.readableBytes <= maxMessageBytes else {
                return fail("a message over \(maxMessageBytes) bytes", context)
            }
            message.data.writeBuffer(&data)
            guard frame.fin else {
                fragments = message
                return nil
            }
            return (message.data, message.isText)
        }
        guard fragments == nil else { return fail("a message begun inside another", context) }
        guard frame.fin else {
            fragments = (frame.unmaskedData, frame.opcode == .text)
            return nil
        }
        return (frame.unmaskedData, frame.opcode == .text)
    }

    private func fail(_ what: String, _ context: ChannelHandlerContext) -> (ByteBuffer, Bool)? {
        fragments = nil
        errorCaught(context: context, error: FragmentationError(description: "the server sent \(what)"))
        return nil
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
        inbound.end(throwing: failure)
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
