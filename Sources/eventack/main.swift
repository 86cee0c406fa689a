#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// `eventack COMMAND …`: the command-line tool. Each command lives in its own file and returns an exit status.
enum Commands {
    static let all: [(name: String, summary: String, help: String, run: @Sendable ([String]) -> Int32)] = [
        (
            "validate", "check message files against the protocol (exit 0 valid, 1 invalid, 2 usage)",
            ValidateCommand.help, ValidateCommand.run
        ),
        ("bench", "run in-process micro benchmarks (build with -c release)", BenchCommand.help, BenchCommand.run),
        (
            "simulate", "run seeded simulations under network faults and check the invariants (exit 1 on a violation)",
            SimulateCommand.help, SimulateCommand.run
        ),
        (
            "replay", "run the conformance transcripts against the Swift machines", ReplayCommand.help,
            ReplayCommand.run
        ),
    ]
}

func usage() -> String {
    var text = "usage: eventack COMMAND [ARGS…]\n\ncommands:\n"
    for command in Commands.all {
        text += "  \(command.name.padding(toLength: 10, withPad: " ", startingAt: 0))\(command.summary)\n"
    }
    text += "\nRun `eventack COMMAND --help` for a command's options.\n"
    return text
}

let arguments = Array(CommandLine.arguments.dropFirst())
guard let name = arguments.first else {
    Output.error(usage())
    exit(2)
}
if name == "--help" || name == "-h" || name == "help" {
    print(usage(), terminator: "")
    exit(0)
}
guard let command = Commands.all.first(where: { $0.name == name }) else {
    Output.error("eventack: unknown command '\(name)'\n\n" + usage())
    exit(2)
}
let commandArguments = Array(arguments.dropFirst())
if commandArguments.contains("--help") || commandArguments.contains("-h") {
    print(command.help)
    exit(0)
}
exit(command.run(commandArguments))
