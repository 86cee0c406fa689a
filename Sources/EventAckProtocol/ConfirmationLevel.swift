/// How far an event has been confirmed. Levels are ordered: a higher level implies every lower one (EA-LVL-1).
public enum ConfirmationLevel: String, Sendable, Hashable, CaseIterable, Comparable, Codable {
    /// The client SDK holds the event.
    case receipt
    /// The user interface rendered the event.
    case display
    /// The user or the app confirmed that the event delivered its value.
    case value

    /// The level's rank: receipt 0, display 1, value 2.
    public var rank: Int {
        switch self {
        case .receipt: 0
        case .display: 1
        case .value: 2
        }
    }

    public static func < (lhs: Self, rhs: Self) -> Bool { lhs.rank < rhs.rank }

    /// This level and every lower one, lowest first.
    public var implied: [ConfirmationLevel] { Self.allCases.filter { $0 <= self } }
}
