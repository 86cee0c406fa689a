// swift-tools-version:6.0
import Foundation
import PackageDescription

// A local package's identity is its directory's name, which depends on where the repository was cloned.
let eventAck = URL(fileURLWithPath: Context.packageDirectory).deletingLastPathComponent()
    .deletingLastPathComponent().standardizedFileURL.lastPathComponent

// EventAck's SessionStore on PostgreSQL through postgres-nio: durable sessions, several nodes, emit routing
// (SessionRouter), the cluster's own loop (ClusterNode: heartbeats, recovery, adoption, forwarded requests) and the
// cross-node report. The root package stays dependency-free.
let package = Package(
    name: "PostgresStore",
    platforms: [.macOS(.v15)],
    products: [.library(name: "EventAckPostgres", targets: ["EventAckPostgres"])],
    dependencies: [
        .package(path: "../.."),
        .package(url: "https://github.com/vapor/postgres-nio.git", from: "1.33.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
    ],
    targets: [
        .target(
            name: "EventAckPostgres",
            dependencies: [
                .product(name: "EventAckReconciler", package: eventAck),
                .product(name: "EventAckPublish", package: eventAck),
                .product(name: "EventAckProtocol", package: eventAck),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: [.swiftLanguageMode(.v6)]
        ),
        .testTarget(
            name: "EventAckPostgresTests",
            dependencies: ["EventAckPostgres", .product(name: "Logging", package: "swift-log")],
            swiftSettings: [.swiftLanguageMode(.v6)]
        ),
    ]
)
