#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// Writing to standard error, which `print` does not do.
enum Output {
    static func error(_ text: String) {
        var line = text
        if !line.hasSuffix("\n") { line += "\n" }
        // `stderr` is a C global; writing to file descriptor 2 directly needs no shared state.
        var bytes = Array(line.utf8)
        _ = bytes.withUnsafeMutableBytes { write(2, $0.baseAddress, $0.count) }
    }

    /// Reports a usage mistake with the command's help on standard error; returns the usage exit status, 2.
    static func usageError(_ command: String, _ message: String, help: String) -> Int32 {
        error("eventack \(command): \(message)\n\n\(help)")
        return 2
    }
}
