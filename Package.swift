// swift-tools-version:6.0
import PackageDescription

// The fuzz target has no `main`: libFuzzer provides it. It is only part of the package when asked for, so that a
// plain `swift build` never tries to link it:
//   EVENTACK_FUZZ=1 swift build -c release --sanitize=fuzzer --product EventAckFuzz --scratch-path .build-fuzz
let includeFuzzTarget = Context.environment["EVENTACK_FUZZ"] == "1"

let strictSettings: [SwiftSetting] = [
    .swiftLanguageMode(.v6),
    .enableUpcomingFeature("ExistentialAny"),
]

var products: [Product] = [
    .library(name: "EventAckProtocol", targets: ["EventAckProtocol"]),
    .library(name: "EventAckClient", targets: ["EventAckClient"]),
    .library(name: "EventAckReconciler", targets: ["EventAckReconciler"]),
    .library(name: "EventAckPublish", targets: ["EventAckPublish"]),
    .library(name: "EventAckTesting", targets: ["EventAckTesting"]),
    .executable(name: "eventack", targets: ["eventack"]),
]

var targets: [Target] = [
    .target(name: "EventAckProtocol", swiftSettings: strictSettings),
    .target(name: "EventAckClient", dependencies: ["EventAckProtocol"], swiftSettings: strictSettings),
    .target(name: "EventAckReconciler", dependencies: ["EventAckProtocol"], swiftSettings: strictSettings),
    .target(
        name: "EventAckPublish", dependencies: ["EventAckProtocol", "EventAckReconciler"], swiftSettings: strictSettings
    ),
    .target(
        name: "EventAckTesting",
        dependencies: ["EventAckProtocol", "EventAckClient", "EventAckReconciler"],
        swiftSettings: strictSettings
    ),
    .executableTarget(
        name: "eventack",
        dependencies: ["EventAckProtocol", "EventAckClient", "EventAckReconciler", "EventAckTesting"],
        swiftSettings: strictSettings
    ),
    .testTarget(
        name: "EventAckProtocolTests",
        dependencies: ["EventAckProtocol"],
        swiftSettings: strictSettings
    ),
    .testTarget(
        name: "EventAckReconcilerTests",
        dependencies: ["EventAckReconciler", "EventAckProtocol", "EventAckClient", "EventAckTesting"],
        swiftSettings: strictSettings
    ),
    .testTarget(
        name: "EventAckTestingTests",
        dependencies: ["EventAckTesting", "EventAckReconciler", "EventAckProtocol"],
        swiftSettings: strictSettings
    ),
    .testTarget(
        name: "EventAckPublishTests",
        dependencies: [
            "EventAckPublish", "EventAckReconciler", "EventAckProtocol", "EventAckClient", "EventAckTesting",
        ],
        swiftSettings: strictSettings
    ),
    .testTarget(
        name: "EventAckClientTests",
        dependencies: ["EventAckClient", "EventAckProtocol", "EventAckTesting"],
        swiftSettings: strictSettings
    ),
]

if includeFuzzTarget {
    products.append(.executable(name: "EventAckFuzz", targets: ["EventAckFuzz"]))
    targets.append(
        .executableTarget(
            name: "EventAckFuzz",
            dependencies: ["EventAckProtocol"],
            swiftSettings: strictSettings + [.unsafeFlags(["-parse-as-library"])]
        )
    )
}

let package = Package(
    name: "EventAck",
    products: products,
    targets: targets
)
