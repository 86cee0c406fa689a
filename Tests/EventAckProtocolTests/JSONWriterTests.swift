import Foundation
import Testing

@testable import EventAckProtocol

@Suite("JSONWriter")
struct JSONWriterTests {
    /// Strings with one character that needs an escape at every offset of the eight-byte words the writer skips.
    @Test("strings escape what JSON requires wherever it falls, and read back unchanged")
    func stringsRoundTrip() throws {
        let specials: [Character] = ["\"", "\\", "\n", "\u{01}", "\u{1F}", "é", "😀", "\u{7F}"]
        for special in specials {
            for length in [0, 1, 7, 8, 9, 15, 16, 17, 40] {
                for position in 0...length {
                    var text = String(repeating: "x", count: length)
                    text.insert(special, at: text.index(text.startIndex, offsetBy: position))
                    var writer = JSONWriter(capacity: 64)
                    writer.string(text)
                    let json = String(decoding: writer.bytes, as: UTF8.self)
                    let decoded =
                        try JSONSerialization.jsonObject(
                            with: Data(json.utf8), options: .fragmentsAllowed) as? String
                    #expect(decoded == text, "\(json)")
                }
            }
        }
    }

    @Test("a string without escapes is copied as it is")
    func plainString() {
        var writer = JSONWriter(capacity: 64)
        writer.string("run_0123456789abcdef")
        #expect(String(decoding: writer.bytes, as: UTF8.self) == #""run_0123456789abcdef""#)
    }
}
