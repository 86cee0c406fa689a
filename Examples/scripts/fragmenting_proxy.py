#!/usr/bin/env python3
"""A TCP proxy in front of an EventAck server that splits every text message the server sends into three WebSocket
fragments, with a ping between the first two (RFC 6455 § 5.4: control frames may come between fragments).
Client → server bytes pass untouched. Proves a client puts fragmented messages together.

usage: fragmenting_proxy.py LISTEN_PORT SERVER_PORT   (prints "proxy listening on PORT" once ready)
"""
import asyncio
import struct
import sys


def frame(opcode, payload, fin):
    head = bytes([(0x80 if fin else 0) | opcode])
    n = len(payload)
    if n < 126:
        head += bytes([n])
    elif n < 65536:
        head += bytes([126]) + struct.pack("!H", n)
    else:
        head += bytes([127]) + struct.pack("!Q", n)
    return head + payload


async def server_to_client(reader, writer):
    # The upgrade response passes as it is.
    writer.write(await reader.readuntil(b"\r\n\r\n"))
    while True:
        head = await reader.readexactly(2)
        fin, opcode, length = head[0] & 0x80, head[0] & 0x0F, head[1] & 0x7F
        if length == 126:
            length = struct.unpack("!H", await reader.readexactly(2))[0]
        elif length == 127:
            length = struct.unpack("!Q", await reader.readexactly(8))[0]
        payload = await reader.readexactly(length)  # a server's frames are not masked
        if opcode == 1 and fin and len(payload) >= 3:
            third = len(payload) // 3
            writer.write(frame(1, payload[:third], False) + frame(9, b"", True)
                         + frame(0, payload[third:2 * third], False) + frame(0, payload[2 * third:], True))
        else:
            writer.write(frame(opcode, payload, bool(fin)))
        await writer.drain()


async def pipe(reader, writer):
    while data := await reader.read(65536):
        writer.write(data)
        await writer.drain()


async def handle(client_reader, client_writer, server_port):
    server_reader, server_writer = await asyncio.open_connection("127.0.0.1", server_port)
    tasks = [asyncio.create_task(pipe(client_reader, server_writer)),
             asyncio.create_task(server_to_client(server_reader, client_writer))]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    except Exception:
        pass
    for task in tasks:
        task.cancel()
    for writer in (client_writer, server_writer):
        writer.close()


async def main(listen_port, server_port):
    server = await asyncio.start_server(lambda r, w: handle(r, w, server_port), "127.0.0.1", listen_port)
    print(f"proxy listening on {server.sockets[0].getsockname()[1]}", flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]), int(sys.argv[2])))
