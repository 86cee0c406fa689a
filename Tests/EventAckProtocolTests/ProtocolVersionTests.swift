import Testing

@testable import EventAckProtocol

@Suite("ProtocolVersion")
struct ProtocolVersionTests {
    @Test("parsing accepts MAJOR.MINOR only (EA-VER-1)")
    func parsing() {
        #expect(ProtocolVersion("1.0") == ProtocolVersion(major: 1, minor: 0))
        #expect(ProtocolVersion("12.34") == ProtocolVersion(major: 12, minor: 34))
        for bad in ["1", "1.", ".1", "01.0", "1.01", "1.0.0", "a.b", "-1.0", "", "1234567890.0"] {
            #expect(ProtocolVersion(bad) == nil, "\(bad)")
        }
    }

    @Test("negotiation picks the highest common major at the lower minor (EA-VER-2)")
    func negotiation() throws {
        let v = { (text: String) in ProtocolVersion(text)! }
        #expect(
            try ProtocolVersion.negotiate(offered: [v("1.0"), v("2.5")], supported: [v("1.2"), v("2.1")]) == v("2.1"))
        #expect(try ProtocolVersion.negotiate(offered: [v("1.3")], supported: [v("1.1"), v("3.0")]) == v("1.1"))
        #expect {
            try ProtocolVersion.negotiate(offered: [v("2.0")], supported: [v("1.0")])
        } throws: { ($0 as? EventAckError)?.code == .unsupportedVersion }
    }

    @Test("confirmation levels are ordered and imply the lower ones (EA-LVL-1)")
    func levels() {
        #expect(ConfirmationLevel.receipt < .display)
        #expect(ConfirmationLevel.display < .value)
        #expect(ConfirmationLevel.value.implied == [.receipt, .display, .value])
        #expect(ConfirmationLevel.receipt.implied == [.receipt])
    }
}
