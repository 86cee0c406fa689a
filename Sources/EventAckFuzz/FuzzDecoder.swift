import EventAckProtocol

/// libFuzzer entry point for the frame decoder. Built only with `EVENTACK_FUZZ=1` (see `Package.swift`):
///
///     EVENTACK_FUZZ=1 swift build -c release --sanitize=fuzzer --product EventAckFuzz --scratch-path .build-fuzz
///     SWIFT_BACKTRACE=enable=no .build-fuzz/release/EventAckFuzz -max_total_time=60 Spec/examples/valid
///
/// Any input must decode or fail with a defined code, and anything that decodes must re-encode to the same
/// message; a violation traps, which libFuzzer reports with the input that caused it.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzDecoder(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let codec = MessageCodec()
    let bytes = UnsafeBufferPointer(start: data, count: size)
    do {
        let message = try codec.decode(bytes: bytes)
        let again = try codec.decode(codec.encode(message))
        precondition(again == message, "re-encoding changed the message")
    } catch {
        precondition(ErrorCode.allDefined.contains(error.code), "undefined error code \(error.code)")
    }
    return 0
}
