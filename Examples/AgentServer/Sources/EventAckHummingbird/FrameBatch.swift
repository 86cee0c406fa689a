import NIOCore

/// WebSocket frames laid out by hand (RFC 6455 § 5.2), for writing below the frame encoder: a server's frames are
/// unmasked, so a frame is its header and its payload, nothing else.
enum FrameBatch {
    /// Buffers of at most about `chunkBytes` (one frame may exceed it), holding a final, unmasked text frame per
    /// string, in order. Chunked because one buffer per batch measured slower than a frame per buffer: a batch of
    /// a thousand events is a 300 KB allocation, which glibc serves with `mmap` and the kernel with page faults.
    static func textFrames(
        _ texts: [String], allocator: ByteBufferAllocator, chunkBytes: Int = 16 * 1024
    ) -> [ByteBuffer] {
        var chunks: [ByteBuffer] = []
        var buffer = allocator.buffer(capacity: chunkBytes)
        for text in texts {
            let length = text.utf8.count
            if buffer.readableBytes > 0, buffer.readableBytes + length + 10 > chunkBytes {
                chunks.append(buffer)
                buffer = allocator.buffer(capacity: max(chunkBytes, length + 10))
            }
            writeHeader(opcode: 0x1, length: length, into: &buffer)
            buffer.writeString(text)
        }
        chunks.append(buffer)
        return chunks
    }

    /// FIN set, RSV bits clear, no mask; the length in 7 bits, or 16 after 126, or 64 after 127.
    static func writeHeader(opcode: UInt8, length: Int, into buffer: inout ByteBuffer) {
        buffer.writeInteger(0x80 | opcode)
        switch length {
        case ..<126:
            buffer.writeInteger(UInt8(length))
        case ...Int(UInt16.max):
            buffer.writeInteger(UInt8(126))
            buffer.writeInteger(UInt16(length))
        default:
            buffer.writeInteger(UInt8(127))
            buffer.writeInteger(UInt64(length))
        }
    }
}
