"""A small AG-UI agent for EventAck's gateway (issue 26): a FastAPI app on the official `ag-ui-protocol` package,
whose models and EventEncoder write the stream — nothing of the encoding is written here.

POST / with a RunAgentInput streams a realistic run: a step, reasoning, an assistant message in deltas around a tool
call with streamed arguments and its result, a state snapshot and delta, RUN_FINISHED. `forwardedProps.mode` picks a
failure instead: `http500` (an HTTP error), `cut` (the stream ends mid-message), `invalid` (content of a message never
started), `hang` (silent after the first events), `huge` (a 1.2 MB delta, over the server's frame limit), `flood` (a
line that never ends: 3 MB and no line feed, then silence); `deltas`
streams one message of `forwardedProps.deltas` (1,000) deltas as fast as it can (the gateway's benchmark). `forwardedProps.delayMs` spaces the events (default 40 ms).

    uvicorn agent:app --port 8000         (or: python3 agent.py --port 8000)
"""

import argparse
import asyncio
import uuid

from ag_ui.core import (
    EventType, ReasoningEndEvent, ReasoningMessageContentEvent, ReasoningMessageEndEvent, ReasoningMessageStartEvent,
    ReasoningStartEvent, RunAgentInput, RunFinishedEvent, RunStartedEvent, StateDeltaEvent, StateSnapshotEvent,
    StepFinishedEvent, StepStartedEvent, TextMessageContentEvent, TextMessageEndEvent, TextMessageStartEvent,
    ToolCallArgsEvent, ToolCallEndEvent, ToolCallResultEvent, ToolCallStartEvent,
)
from ag_ui.encoder import EventEncoder
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, StreamingResponse

app = FastAPI(title="EventAck's AG-UI test agent")

ANSWER = ["I found ", "3 flights ", "to Lisbon; ", "the cheapest ", "is TAP 1234 ", "on Friday ", "at 9:05, ", "142 EUR."]


def run_events(input: RunAgentInput, mode: str):
    """The run's events, in order; a failing mode breaks it where its name says."""
    thread, run = input.thread_id, input.run_id
    if mode == "deltas":
        count = int((input.forwarded_props or {}).get("deltas", 1000))
        yield RunStartedEvent(type=EventType.RUN_STARTED, thread_id=thread, run_id=run)
        yield TextMessageStartEvent(type=EventType.TEXT_MESSAGE_START, message_id="bench", role="assistant")
        for index in range(count):
            yield TextMessageContentEvent(type=EventType.TEXT_MESSAGE_CONTENT, message_id="bench", delta=f"w{index} ")
        yield TextMessageEndEvent(type=EventType.TEXT_MESSAGE_END, message_id="bench")
        yield RunFinishedEvent(type=EventType.RUN_FINISHED, thread_id=thread, run_id=run)
        return
    message, reasoning, call = f"m-{uuid.uuid4().hex[:8]}", f"r-{uuid.uuid4().hex[:8]}", f"c-{uuid.uuid4().hex[:8]}"
    yield RunStartedEvent(type=EventType.RUN_STARTED, thread_id=thread, run_id=run)
    yield StepStartedEvent(type=EventType.STEP_STARTED, step_name="plan")
    yield ReasoningStartEvent(type=EventType.REASONING_START, message_id=reasoning)
    yield ReasoningMessageStartEvent(type=EventType.REASONING_MESSAGE_START, message_id=reasoning, role="reasoning")
    yield ReasoningMessageContentEvent(
        type=EventType.REASONING_MESSAGE_CONTENT, message_id=reasoning, delta="Search flights first, then compare.")
    yield ReasoningMessageEndEvent(type=EventType.REASONING_MESSAGE_END, message_id=reasoning)
    yield ReasoningEndEvent(type=EventType.REASONING_END, message_id=reasoning)
    if mode == "hang":
        yield "hang"
    if mode == "flood":
        yield "flood"
    if mode == "invalid":
        yield TextMessageContentEvent(type=EventType.TEXT_MESSAGE_CONTENT, message_id="never-started", delta="oops")
    yield TextMessageStartEvent(type=EventType.TEXT_MESSAGE_START, message_id=message, role="assistant")
    yield TextMessageContentEvent(type=EventType.TEXT_MESSAGE_CONTENT, message_id=message, delta=ANSWER[0])
    if mode == "cut":
        yield "cut"
    if mode == "huge":
        yield TextMessageContentEvent(type=EventType.TEXT_MESSAGE_CONTENT, message_id=message, delta="x" * 1_200_000)
    yield ToolCallStartEvent(
        type=EventType.TOOL_CALL_START, tool_call_id=call, tool_call_name="search_flights", parent_message_id=message)
    yield ToolCallArgsEvent(type=EventType.TOOL_CALL_ARGS, tool_call_id=call, delta='{"to": ')
    yield ToolCallArgsEvent(type=EventType.TOOL_CALL_ARGS, tool_call_id=call, delta='"LIS"}')
    yield ToolCallEndEvent(type=EventType.TOOL_CALL_END, tool_call_id=call)
    yield ToolCallResultEvent(
        type=EventType.TOOL_CALL_RESULT, message_id=f"t-{call}", tool_call_id=call, content="3 flights found")
    yield StateSnapshotEvent(type=EventType.STATE_SNAPSHOT, snapshot={"flights": 3, "destination": "LIS"})
    yield StateDeltaEvent(type=EventType.STATE_DELTA, delta=[{"op": "replace", "path": "/flights", "value": 3}])
    for delta in ANSWER[1:]:
        yield TextMessageContentEvent(type=EventType.TEXT_MESSAGE_CONTENT, message_id=message, delta=delta)
    yield TextMessageEndEvent(type=EventType.TEXT_MESSAGE_END, message_id=message)
    yield StepFinishedEvent(type=EventType.STEP_FINISHED, step_name="plan")
    yield RunFinishedEvent(type=EventType.RUN_FINISHED, thread_id=thread, run_id=run)


@app.post("/")
async def run_agent(input: RunAgentInput, request: Request):
    props = input.forwarded_props if isinstance(input.forwarded_props, dict) else {}
    mode, delay = props.get("mode", "ok"), float(props.get("delayMs", 40)) / 1000
    if mode == "http500":
        return JSONResponse({"error": "the model is overloaded"}, status_code=500)
    encoder = EventEncoder(accept=request.headers.get("accept"))

    async def stream():
        for event in run_events(input, mode):
            if event == "cut":
                return  # the connection ends mid-message, as an agent that crashed would end it
            if event == "hang":
                await asyncio.sleep(3600)
                return
            if event == "flood":
                yield "data: " + "x" * 3_000_000  # no line feed: written by hand, as no encoder would
                await asyncio.sleep(3600)
                return
            yield encoder.encode(event)
            if delay > 0:
                await asyncio.sleep(delay)

    return StreamingResponse(stream(), media_type=encoder.get_content_type())


if __name__ == "__main__":
    import uvicorn

    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=8000)
    args = parser.parse_args()
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning")
