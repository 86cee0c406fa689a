import EventAckProtocol
import EventAckReconciler

/// The simulator's agenda: what happens next, in time order, ties broken by scheduling order so that a seed
/// replays exactly.
struct SimulationQueue {
    struct Entry {
        var time: UInt64
        var order: UInt64
        var task: SimulationTask
    }

    private var heap: [Entry] = []
    private var nextOrder: UInt64 = 0

    var isEmpty: Bool { heap.isEmpty }

    mutating func schedule(_ task: SimulationTask, at time: UInt64) {
        heap.append(Entry(time: time, order: nextOrder, task: task))
        nextOrder += 1
        var child = heap.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard precedes(heap[child], heap[parent]) else { break }
            heap.swapAt(child, parent)
            child = parent
        }
    }

    mutating func pop() -> Entry? {
        guard !heap.isEmpty else { return nil }
        heap.swapAt(0, heap.count - 1)
        let first = heap.removeLast()
        var parent = 0
        while true {
            let left = 2 * parent + 1
            let right = left + 1
            var smallest = parent
            if left < heap.count, precedes(heap[left], heap[smallest]) { smallest = left }
            if right < heap.count, precedes(heap[right], heap[smallest]) { smallest = right }
            if smallest == parent { break }
            heap.swapAt(parent, smallest)
            parent = smallest
        }
        return first
    }

    private func precedes(_ a: Entry, _ b: Entry) -> Bool {
        (a.time, a.order) < (b.time, b.order)
    }
}

/// Something the simulator will do at a given virtual time.
enum SimulationTask {
    /// A frame reaches the server over `link`, if that link still exists.
    case frameToServer(link: UInt64, text: String)
    /// A frame reaches the client at the end of `link`, if that link still exists.
    case frameToClient(link: UInt64, text: String)
    /// The network cuts `link` (both ends notice).
    case cut(link: UInt64)
    /// The client (of this process generation) opens a new connection.
    case reconnect(client: Int, generation: UInt64)
    /// The client's machine asked for a timer at this time (stale when it asked for another since).
    case clientTimer(client: Int, generation: UInt64)
    /// The reconciler's timer (stale when it asked for another since).
    case serverTimer
    /// The next step of an agent run.
    case agentStep(run: Int)
    /// The store answers the server's load of `session`.
    case storeLoaded(session: SessionID)
    /// The server tries its write-ahead batch again (stale if the server process died since).
    case storeAttempt(generation: UInt64)
    /// A stalled append completes (stale if the server process died since).
    case storeStallEnds(generation: UInt64)
    /// A user acts on an event delivered in `session` by the client process `generation`.
    case user(client: Int, generation: UInt64, session: String, seq: UInt64, action: UserAction)
}

/// What a simulated user does with an event.
enum UserAction: Sendable, Hashable {
    case display
    case value
    case reject(level: ConfirmationLevel)
}
