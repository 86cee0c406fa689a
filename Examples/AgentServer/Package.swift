// swift-tools-version:6.0
import Foundation
import PackageDescription

// A local package's identity is its directory's name, which depends on where the repository was cloned.
let eventAck = URL(fileURLWithPath: Context.packageDirectory).deletingLastPathComponent()
    .deletingLastPathComponent().standardizedFileURL.lastPathComponent

// EventAck on Hummingbird 2 and hummingbird-websocket: the library `EventAckHummingbird` (what a Hummingbird app
// imports to serve EventAck: the WebSocket adapter, the upgrade gate, connection limits, pluggable authentication) and
// the reference server `AgentServer` built on it. Depends on the root package by path; the root package itself stays
// dependency-free.
let package = Package(
    name: "AgentServer",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "EventAckHummingbird", targets: ["EventAckHummingbird"]),
        .executable(name: "AgentServer", targets: ["AgentServer"]),
    ],
    dependencies: [
        .package(path: "../.."),
        .package(path: "../PostgresStore"),
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/hummingbird-project/hummingbird-websocket.git", from: "2.8.1"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
        .package(url: "https://github.com/apple/swift-openapi-runtime.git", from: "1.13.4"),
    ],
    targets: [
        .target(
            name: "EventAckHummingbird",
            dependencies: [
                .product(name: "EventAckReconciler", package: eventAck),
                .product(name: "EventAckPublish", package: eventAck),
                .product(name: "EventAckProtocol", package: eventAck),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdWebSocket", package: "hummingbird-websocket"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOWebSocket", package: "swift-nio"),
            ],
            swiftSettings: [.swiftLanguageMode(.v6)]
        ),
        .testTarget(
            name: "EventAckHummingbirdTests",
            dependencies: ["EventAckHummingbird"],
            swiftSettings: [.swiftLanguageMode(.v6)]
        ),
        .executableTarget(
            name: "AgentServer",
            dependencies: [
                "EventAckHummingbird",
                .product(name: "EventAckReconciler", package: eventAck),
                .product(name: "EventAckPublish", package: eventAck),
                .product(name: "EventAckProtocol", package: eventAck),
                .product(name: "EventAckPostgres", package: "PostgresStore"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdWebSocket", package: "hummingbird-websocket"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOWebSocket", package: "swift-nio"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "OpenAPIRuntime", package: "swift-openapi-runtime"),
            ],
            swiftSettings: [.swiftLanguageMode(.v6)]
        ),
    ]
)
