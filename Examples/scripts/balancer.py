#!/usr/bin/env python3
"""A small TCP balancer for cluster-chaos.sh: round robin over BACKENDS, no stickiness; a backend that refuses the
connection (its node is down) is skipped for the next. Prints `balancer listening on PORT`.
Usage: balancer.py BACKEND_PORT[,BACKEND_PORT...]"""
import asyncio
import itertools
import sys

backends = [int(p) for p in sys.argv[1].split(",")]
turn = itertools.count()


async def pipe(reader, writer):
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, asyncio.CancelledError):
        pass
    finally:
        try:
            writer.close()
        except Exception:
            pass


async def serve(client_reader, client_writer):
    start = next(turn)
    for offset in range(len(backends)):
        port = backends[(start + offset) % len(backends)]
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            continue
        await asyncio.gather(pipe(client_reader, writer), pipe(reader, client_writer))
        return
    client_writer.close()


async def main():
    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    print(f"balancer listening on {server.sockets[0].getsockname()[1]}", flush=True)
    async with server:
        await server.serve_forever()


asyncio.run(main())
