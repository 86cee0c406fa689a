// swift-tools-version:6.0
import Foundation
import PackageDescription

// Proof that the integration libraries import: a server and a client of a page each, depending only on the products
// EventAckHummingbird and EventAckNIOClient (and the SDK and reconciler they build on), as an outside app would.

// A local package's identity is its directory's name, which depends on where the repository was cloned.
let eventAck = URL(fileURLWithPath: Context.packageDirectory).deletingLastPathComponent()
    .deletingLastPathComponent().standardizedFileURL.lastPathComponent

let package = Package(
    name: "Minimal",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(path: "../.."),
        .package(path: "../AgentServer"),
        .package(path: "../LinuxClient"),
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
    ],
    targets: [
        .executableTarget(
            name: "MinimalServer",
            dependencies: [
                .product(name: "EventAckHummingbird", package: "AgentServer"),
                .product(name: "EventAckReconciler", package: eventAck),
                .product(name: "EventAckProtocol", package: eventAck),
                .product(name: "Hummingbird", package: "hummingbird"),
            ],
            swiftSettings: [.swiftLanguageMode(.v6)]
        ),
        .executableTarget(
            name: "MinimalClient",
            dependencies: [
                .product(name: "EventAckNIOClient", package: "LinuxClient"),
                .product(name: "EventAckClient", package: eventAck),
            ],
            swiftSettings: [.swiftLanguageMode(.v6)]
        ),
    ]
)
