import EventAckPublish
import HTTPTypes
import Hummingbird
import NIOCore

extension PublishRoutes {
    /// `GET /v1/runs/{run}/confirmations` (EA-PUB-7): the run's feed as Server-Sent Events — everything so far, then
    /// each item as it comes, the verdict last, then the stream ends. `Last-Event-ID: n` continues after item `n`;
    /// a reconnect once the verdict was sent gets 204, which stops an `EventSource`. A comment goes out every
    /// ``keepaliveMs`` while nothing else does, so that proxies keep the stream open.
    func confirmations(_ request: Request, run: String) throws(PublishError) -> Response {
        var after = 0
        if let text = request.headers[HTTPField.Name("Last-Event-ID")!] {
            guard let value = Int(text), value >= 0 else {
                throw PublishError(
                    status: 400, code: "invalid_request", message: "Last-Event-ID must be an id this stream sent")
            }
            after = value
        }
        guard let first = publish.feed(of: run, after: after) else {
            throw PublishError(status: 404, code: "unknown_run", message: "no run \(run)")
        }
        if first.complete, first.items.isEmpty { return Response(status: .noContent) }
        let (publish, keepaliveMs, start) = (self.publish, self.keepaliveMs, after)
        let body = ResponseBody { writer in
            try await writer.write(ByteBuffer(string: "retry: 1000\n\n"))
            var position = start
            var quietSince = ContinuousClock.now
            while true {
                guard let (items, complete) = publish.feed(of: run, after: position) else { break }
                if !items.isEmpty {
                    try await writer.write(ByteBuffer(string: items.map(\.serverSentEvent).joined()))
                    position = items.last!.index
                    quietSince = .now
                }
                if complete { break }
                if ContinuousClock.now - quietSince >= .milliseconds(keepaliveMs) {
                    try await writer.write(ByteBuffer(string: ": keepalive\n\n"))
                    quietSince = .now
                }
                try Task.checkCancellation()
                await publish.waitForFeed(of: run, after: position, timeoutMs: keepaliveMs)
            }
            try await writer.finish(nil)
        }
        return Response(
            status: .ok,
            headers: [
                .contentType: "text/event-stream", .cacheControl: "no-cache",
                HTTPField.Name("X-Accel-Buffering")!: "no",
            ],
            body: body)
    }
}
