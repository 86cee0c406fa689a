"""A minimal WebSocket client (RFC 6455, client side) for the example scripts: the standard library only."""
import base64
import json
import os
import socket
import struct
import time

HELLO = {"type": "hello", "versions": ["1.1"], "client": {"name": "script", "version": "1"}}


class WebSocket:
    """Just enough of RFC 6455 for a client: upgrade, masked frames out, frames in."""

    def __init__(self, port, token, subprotocol="eventack.v1", rcvbuf=None):
        self.port = port
        if rcvbuf:
            # Before connecting, so that the advertised window is small from the start: a peer that does not read
            # then fills the server's buffers quickly, whatever the kernel's autotuning.
            self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
            self.sock.settimeout(10)
            self.sock.connect(("127.0.0.1", port))
        else:
            self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        key = base64.b64encode(os.urandom(16)).decode()
        head = (f"GET /eventack HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n")
        if subprotocol:
            head += f"Sec-WebSocket-Protocol: {subprotocol}\r\n"
        if token:
            head += f"Authorization: Bearer {token}\r\n"
        self.sock.sendall((head + "\r\n").encode())
        response = b""
        while b"\r\n\r\n" not in response:
            chunk = self.sock.recv(4096)
            if not chunk:
                break
            response += chunk
        head, _, self.buffer = response.partition(b"\r\n\r\n")
        self.status = int(head.split(b" ")[1]) if head.startswith(b"HTTP/") else 0
        self.head = head.decode(errors="replace")

    def send_frame(self, payload, opcode=1, fin=True):
        mask = os.urandom(4)
        header = bytes([(0x80 if fin else 0) | opcode])
        length = len(payload)
        if length < 126:
            header += bytes([0x80 | length])
        elif length < 65536:
            header += bytes([0x80 | 126]) + struct.pack(">H", length)
        else:
            header += bytes([0x80 | 127]) + struct.pack(">Q", length)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload)) if length < 4096 else self._mask(payload, mask)
        self.sock.sendall(header + mask + masked)

    @staticmethod
    def _mask(payload, mask):
        key = (mask * (len(payload) // 4 + 1))[: len(payload)]
        return (int.from_bytes(payload, "big") ^ int.from_bytes(key, "big")).to_bytes(len(payload), "big")

    def send(self, message):
        self.send_frame(json.dumps(message, separators=(",", ":")).encode())

    def _read(self, count):
        while len(self.buffer) < count:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("closed")
            self.buffer += chunk
        data, self.buffer = self.buffer[:count], self.buffer[count:]
        return data

    def recv(self, timeout=5):
        """The next text message as JSON, "close" for a close frame, None on timeout; answers pings."""
        self.sock.settimeout(timeout)
        try:
            while True:
                first, second = self._read(2)
                length = second & 0x7F
                if length == 126:
                    length = struct.unpack(">H", self._read(2))[0]
                elif length == 127:
                    length = struct.unpack(">Q", self._read(8))[0]
                payload = self._read(length)
                opcode = first & 0x0F
                if opcode == 8:
                    return "close"
                if opcode == 9:
                    self.send_frame(payload, opcode=10)
                    continue
                if opcode == 1:
                    return json.loads(payload)
        except socket.timeout:
            return None
        except (ConnectionError, OSError):
            return "close"

    def recv_until(self, predicate, timeout=10):
        deadline = time.time() + timeout
        while time.time() < deadline:
            message = self.recv(max(0.1, deadline - time.time()))
            if message == "close":
                return "close"
            if message is not None and predicate(message):
                return message
        return None

    def handshake(self, resume=None):
        hello = dict(HELLO)
        if resume:
            hello["resume"] = resume
        self.send(hello)
        return self.recv_until(lambda m: m.get("type") in ("welcome", "error"))

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass
