/// Makes peer-chosen strings (nack reasons and details, run ids, kinds, client names…) safe to print in a line of
/// a log or a text report: a newline in a nack reason must not forge a line of its own, and a bidirectional
/// override must not reorder what an operator reads.
public enum DisplayText {
    /// `text` with every control character escaped: `\n`, `\r`, `\t` and `\\` as in Swift and JSON, other C0 and C1
    /// controls, DEL, line and paragraph separators and bidirectional controls as `\u{…}`. Text without any is
    /// returned as it is.
    public static func escaping(_ text: some StringProtocol) -> String {
        guard text.unicodeScalars.contains(where: needsEscape) else { return String(text) }
        var escaped = ""
        escaped.reserveCapacity(text.utf8.count + 8)
        for scalar in text.unicodeScalars {
            guard needsEscape(scalar) else {
                escaped.unicodeScalars.append(scalar)
                continue
            }
            switch scalar {
            case "\n": escaped += "\\n"
            case "\r": escaped += "\\r"
            case "\t": escaped += "\\t"
            case "\\": escaped += "\\\\"
            default: escaped += "\\u{" + String(scalar.value, radix: 16) + "}"
            }
        }
        return escaped
    }

    /// A backslash is escaped only so that an escaped text cannot be mistaken for an unescaped one.
    private static func needsEscape(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.value {
        case 0x00...0x1F, 0x5C, 0x7F...0x9F: true
        case 0x2028, 0x2029: true  // line and paragraph separators
        case 0x200E, 0x200F, 0x202A...0x202E, 0x2066...0x2069: true  // bidirectional controls
        default: false
        }
    }
}
