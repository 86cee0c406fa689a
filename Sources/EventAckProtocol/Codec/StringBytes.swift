extension String {
    /// `withUTF8` for a body with a typed error: the standard library's version only rethrows `any Error`.
    mutating func withUTF8Bytes<Result>(
        _ body: (UnsafeBufferPointer<UInt8>) throws(EventAckError) -> Result
    ) throws(EventAckError) -> Result {
        let outcome: Swift.Result<Result, EventAckError> = withUTF8 { bytes in
            do throws(EventAckError) {
                return .success(try body(bytes))
            } catch {
                return .failure(error)
            }
        }
        return try outcome.get()
    }
}
