import NIOCore

#if TLS
    import NIOSSL

    /// `wss://`: TLS through swift-nio-ssl, built only with the package trait `TLS`
    /// (`swift build --traits TLS`), so that the default build compiles SwiftNIO alone.
    enum WebSocketTLS {
        static let isAvailable = true

        /// The handler that goes first in a `wss://` connection's pipeline: verifies the server's certificate for
        /// `host` against the system's trust roots, or `caFile`'s (PEM) when given.
        static func handler(host: String, caFile: String?) throws -> any ChannelHandler {
            var configuration = TLSConfiguration.makeClientConfiguration()
            if let caFile { configuration.trustRoots = .file(caFile) }
            // Server name indication takes names, not addresses.
            let isAddress = (try? SocketAddress(ipAddress: host, port: 0)) != nil
            return try NIOSSLClientHandler(
                context: NIOSSLContext(configuration: configuration), serverHostname: isAddress ? nil : host)
        }
    }
#else
    /// `wss://` needs the package trait `TLS` (`swift build --traits TLS`); without it, `wss://` URLs are refused.
    enum WebSocketTLS {
        static let isAvailable = false

        static func handler(host: String, caFile: String?) throws -> any ChannelHandler {
            throw UnsupportedURL(url: "wss://\(host)")
        }
    }
#endif
