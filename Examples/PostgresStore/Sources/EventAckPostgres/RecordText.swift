import EventAckProtocol
import EventAckReconciler
import Foundation

/// Records as the JSON text the store keeps. The two that make up nearly every commit — `emitted` and `confirmed` —
/// are written by hand (JSONEncoder cost more per event than the rest of the write path); the others, and every
/// read, go through `Codable`, whose format this matches member for member.
enum RecordText {
    static func encode(_ record: SessionRecord, with encoder: JSONEncoder) throws -> String {
        switch record.change {
        case .emitted(let seq, let run, let kind, let ts, let confirm, let endsRun, let payload, let origin):
            var text = #"{"session":"# + quoted(record.session.rawValue) + #","kind":"emitted","seq":\#(seq),"run":"#
            text += quoted(run) + #","eventKind":"# + quoted(kind) + #","ts":\#(ts),"confirm":""#
            text += confirm.rawValue + #"","endsRun":\#(endsRun),"payload":"# + quoted(payload.json)
            if let origin { text += #","origin":"# + quoted(origin) }
            return text + "}"
        case .confirmed(let level, let seqs, let at):
            let ranges = seqs.ranges.map { "[\($0.lowerBound),\($0.upperBound)]" }.joined(separator: ",")
            return #"{"session":"# + quoted(record.session.rawValue) + #","kind":"confirmed","level":""#
                + level.rawValue + #"","upTo":\#(seqs.upTo),"ranges":[\#(ranges)],"at":\#(at)}"#
        default:
            return String(decoding: try encoder.encode(record), as: UTF8.self)
        }
    }

    /// `value` as a JSON string literal (RFC 8259 § 7).
    static func quoted(_ value: String) -> String {
        var out = "\""
        out.reserveCapacity(value.utf8.count + 2)
        for scalar in value.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20:
                let hex = String(scalar.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }
}
