#!/usr/bin/env python3
"""A TCP proxy that passes bytes both ways untouched and, on SIGUSR1, cuts every connection open through it at once
(an abortive close: the peers see a reset, as when a network drops), then keeps accepting new ones. Lets a test cut a
browser's WebSocket the way a network does, rather than by asking the page to close it.

usage: cutting_proxy.py LISTEN_PORT TARGET_PORT   (prints "proxy listening on PORT" once ready)
"""
import asyncio
import signal
import sys

open_writers = set()


async def pipe(reader, writer):
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, asyncio.IncompleteReadError):
        pass
    finally:
        writer.close()


async def handle(client_reader, client_writer):
    try:
        server_reader, server_writer = await asyncio.open_connection("127.0.0.1", int(sys.argv[2]))
    except OSError:
        client_writer.close()
        return
    pair = (client_writer, server_writer)
    open_writers.add(pair)
    try:
        await asyncio.gather(pipe(client_reader, server_writer), pipe(server_reader, client_writer))
    finally:
        open_writers.discard(pair)


def cut_all():
    for pair in list(open_writers):
        for writer in pair:
            writer.transport.abort()
    print(f"cut {len(open_writers)} connections", flush=True)


async def main():
    server = await asyncio.start_server(handle, "127.0.0.1", int(sys.argv[1]))
    asyncio.get_running_loop().add_signal_handler(signal.SIGUSR1, cut_all)
    print(f"proxy listening on {server.sockets[0].getsockname()[1]}", flush=True)
    async with server:
        await server.serve_forever()


asyncio.run(main())
