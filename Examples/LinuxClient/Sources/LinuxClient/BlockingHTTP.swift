import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// A plain HTTP/1.1 POST on a thread of its own, for the benchmark's one long request.
///
/// `URLSession` on Linux (libcurl under libdispatch) keeps re-arming its socket's sources while a response is
/// pending: over a 5-second benchmark that was a third of the client's CPU, measured as if it were the SDK's. A
/// blocking socket on a dedicated thread costs nothing while it waits, and keeps the cooperative pool free.
enum BlockingHTTP {
    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    /// POSTs `body` (JSON) to `http://host:port/path` with a bearer token; returns the status and the body.
    static func post(url: String, path: String, token: String, body: Data) async throws -> (status: Int, body: Data) {
        guard let components = URLComponents(string: url), components.scheme == "http",
            let host = components.host
        else { throw Failure(description: "\(url): only http:// is supported here") }
        let port = components.port ?? 80
        var head = "POST \(path) HTTP/1.1\r\nHost: \(host):\(port)\r\nAuthorization: Bearer \(token)\r\n"
        head += "Content-Type: application/json\r\nContent-Length: \(body.count)\r\nConnection: close\r\n\r\n"
        let request = Data(head.utf8) + body
        return try await withCheckedThrowingContinuation { continuation in
            Thread.detachNewThread {
                continuation.resume(with: Result { try exchange(request, host: host, port: port) })
            }
        }
    }

    private static func exchange(_ request: Data, host: String, port: Int) throws -> (status: Int, body: Data) {
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var found: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(host, String(port), &hints, &found) == 0, let address = found else {
            throw Failure(description: "cannot resolve \(host)")
        }
        defer { freeaddrinfo(found) }
        let fd = socket(address.pointee.ai_family, address.pointee.ai_socktype, address.pointee.ai_protocol)
        guard fd >= 0 else { throw Failure(description: "socket: errno \(errno)") }
        defer { close(fd) }
        guard connect(fd, address.pointee.ai_addr, address.pointee.ai_addrlen) == 0 else {
            throw Failure(description: "connect to \(host):\(port): errno \(errno)")
        }
        try request.withUnsafeBytes { bytes in
            var sent = 0
            while sent < bytes.count {
                let count = send(fd, bytes.baseAddress! + sent, bytes.count - sent, Int32(MSG_NOSIGNAL))
                guard count > 0 else { throw Failure(description: "send: errno \(errno)") }
                sent += count
            }
        }
        var response = Data()
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while true {
            let count = recv(fd, &buffer, buffer.count, 0)
            if count == 0 { break }
            guard count > 0 else {
                if errno == EINTR { continue }
                throw Failure(description: "recv: errno \(errno)")
            }
            response.append(contentsOf: buffer[0..<count])
        }
        return try parse(response)
    }

    /// The status and body of a `Connection: close` response (Content-Length or chunked).
    private static func parse(_ response: Data) throws -> (status: Int, body: Data) {
        guard let end = response.firstRange(of: Data("\r\n\r\n".utf8)) else {
            throw Failure(description: "incomplete HTTP response")
        }
        let head = String(decoding: response[..<end.lowerBound], as: UTF8.self)
        let lines = head.components(separatedBy: "\r\n")
        let parts = lines.first?.split(separator: " ") ?? []
        guard parts.count >= 2, let status = Int(parts[1]) else { throw Failure(description: "bad status line") }
        var body = Data(response[end.upperBound...])
        let chunked = lines.contains {
            $0.lowercased().hasPrefix("transfer-encoding:") && $0.lowercased().contains("chunked")
        }
        if chunked { body = try dechunk(body) }
        return (status, body)
    }

    private static func dechunk(_ data: Data) throws -> Data {
        var body = Data()
        var rest = data[...]
        while let lineEnd = rest.firstRange(of: Data("\r\n".utf8)) {
            let sizeText = String(decoding: rest[..<lineEnd.lowerBound], as: UTF8.self).split(separator: ";")[0]
            guard let size = Int(sizeText.trimmingCharacters(in: .whitespaces), radix: 16) else {
                throw Failure(description: "bad chunk size")
            }
            if size == 0 { return body }
            let start = lineEnd.upperBound
            guard rest.distance(from: start, to: rest.endIndex) >= size + 2 else {
                throw Failure(description: "short chunk")
            }
            let chunkEnd = rest.index(start, offsetBy: size)
            body.append(rest[start..<chunkEnd])
            rest = rest[rest.index(chunkEnd, offsetBy: 2)...]
        }
        throw Failure(description: "unterminated chunked body")
    }
}
