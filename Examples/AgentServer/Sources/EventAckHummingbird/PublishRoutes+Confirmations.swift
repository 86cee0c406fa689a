import EventAckPublish
import HTTPTypes
import Hummingbird
import NIOCore

extension PublishRoutes {
    /// `GET /v1/runs/{run}/confirmations` (EA-PUB-7): the run's feed as Server-Sent Events — everything so far, then
    /// each item as it comes, the verdict last, then the stream ends. `Last-Event-ID` continues after the item it
    /// names; a reconnect once the verdict was sent gets 204, which stops an `EventSource`. A comment goes out every
    /// ``keepaliveMs`` while nothing else does, so that proxies keep the stream open. The feed is read part by part
    /// from the node that serves the run (this one, or another through the relay: EA-PUB-11).
    func confirmations(_ request: Request, run: String) async throws(PublishError) -> Response {
        let lastEventID = request.headers[HTTPField.Name("Last-Event-ID")!]
        let first = await endpoint.perform(.feed(run: run, after: lastEventID, waitMs: 0))
        guard first.status == 200 else { return PublishAnswer.reply(first) }
        let (endpoint, keepaliveMs) = (self.endpoint, self.keepaliveMs)
        let body = ResponseBody { writer in
            try await writer.write(ByteBuffer(string: "retry: 1000\n\n" + first.body))
            var (position, complete) = (first.lastEventID, first.complete ?? false)
            while !complete {
                try Task.checkCancellation()
                let part = await endpoint.perform(.feed(run: run, after: position, waitMs: keepaliveMs))
                // 204: complete before this part; anything else (the serving node gone): end, and the client's
                // reconnect with Last-Event-ID goes on from where this stream stopped.
                guard part.status == 200 else { break }
                try await writer.write(ByteBuffer(string: part.body.isEmpty ? ": keepalive\n\n" : part.body))
                (position, complete) = (part.lastEventID ?? position, part.complete ?? false)
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
