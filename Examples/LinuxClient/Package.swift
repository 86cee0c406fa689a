// swift-tools-version:6.1
import Foundation
import PackageDescription

// EventAck over SwiftNIO's WebSocket for Linux clients: the library `EventAckNIOClient` (the client transport, what
// an app imports) and the command-line client `LinuxClient` built on it. Depends on the root package by path; the
// root package itself stays dependency-free.

// A local package's identity is its directory's name, which depends on where the repository was cloned.
let eventAck = URL(fileURLWithPath: Context.packageDirectory).deletingLastPathComponent()
    .deletingLastPathComponent().standardizedFileURL.lastPathComponent

let package = Package(
    name: "LinuxClient",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "EventAckNIOClient", targets: ["EventAckNIOClient"]),
        .executable(name: "LinuxClient", targets: ["LinuxClient"]),
    ],
    traits: [
        // Off by default: swift-nio-ssl compiles BoringSSL, which would triple the example's build time.
        .trait(name: "TLS", description: "wss:// URLs through swift-nio-ssl (swift build --traits TLS)")
    ],
    dependencies: [
        .package(path: "../.."),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
    ],
    targets: [
        .target(
            name: "EventAckNIOClient",
            dependencies: [
                .product(name: "EventAckClient", package: eventAck),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOWebSocket", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl", condition: .when(traits: ["TLS"])),
            ],
            swiftSettings: [.swiftLanguageMode(.v6)]
        ),
        .executableTarget(
            name: "LinuxClient",
            dependencies: [
                "EventAckNIOClient",
                .product(name: "EventAckClient", package: eventAck),
                .product(name: "EventAckProtocol", package: eventAck),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: [.swiftLanguageMode(.v6)]
        ),
        .testTarget(
            name: "EventAckNIOClientTests",
            dependencies: ["EventAckNIOClient", .product(name: "EventAckClient", package: eventAck)],
            swiftSettings: [.swiftLanguageMode(.v6)]
        ),
    ]
)
