/// The location of a member in a frame, such as `$.receipt.ranges[1]`, kept as a small value so that decoding
/// builds no path strings unless it fails. Protocol messages nest at most five levels; deeper components are
/// elided in the text form.
struct JSONPath: CustomStringConvertible {
    enum Component {
        case key(StaticString)
        case index(Int)
    }

    private static let capacity = 6
    private var components: (Component?, Component?, Component?, Component?, Component?, Component?)
    private var count = 0

    /// `$`, the whole frame.
    static let root = JSONPath()

    private init() {
        components = (nil, nil, nil, nil, nil, nil)
    }

    func appending(_ key: StaticString) -> JSONPath { appending(component: .key(key)) }

    func appending(index: Int) -> JSONPath { appending(component: .index(index)) }

    private func appending(component: Component) -> JSONPath {
        var path = self
        switch count {
        case 0: path.components.0 = component
        case 1: path.components.1 = component
        case 2: path.components.2 = component
        case 3: path.components.3 = component
        case 4: path.components.4 = component
        case 5: path.components.5 = component
        default: break
        }
        path.count = count + 1
        return path
    }

    var description: String {
        var text = "$"
        let all = [components.0, components.1, components.2, components.3, components.4, components.5]
        for component in all.prefix(count) {
            switch component {
            case .key(let name): text += ".\(name)"
            case .index(let index): text += "[\(index)]"
            case nil: break
            }
        }
        if count > Self.capacity { text += "…" }
        return text
    }
}
