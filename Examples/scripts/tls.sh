#!/usr/bin/env bash
# wss:// end to end: builds Examples/LinuxClient with the package trait TLS (swift-nio-ssl; a build of its own under
# .build-tls, a few minutes the first time), makes a throwaway CA and a certificate for localhost, puts a TLS proxy
# (Python's ssl module) in front of the agent server, and runs a client over wss:// through it — once trusting the
# CA (--ca-file: the run must be confirmed), once not (every attempt must fail with a certificate error, and say so).
# Not part of .ci/run (BoringSSL triples the example's build); run it when the TLS path changes.
set -euo pipefail
cd "$(dirname "$0")/../.."
work="$(mktemp -d /tmp/eventack-tls.XXXXXX)"
server_pid=""
proxy_pid=""
cleanup() { for pid in $server_pid $proxy_pid; do kill -9 "$pid" 2>/dev/null || true; done; }
trap cleanup EXIT

echo "=== building the examples; LinuxClient again with --traits TLS"
source Examples/scripts/binaries.sh
swift build --package-path Examples/LinuxClient --scratch-path Examples/LinuxClient/.build-tls --traits TLS 2>&1 \
    | tail -1
tls_client="$(swift build --package-path Examples/LinuxClient --scratch-path Examples/LinuxClient/.build-tls \
    --traits TLS --show-bin-path)/LinuxClient"

echo "=== a CA and a certificate for localhost"
openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj "/CN=EventAck test CA" \
    -keyout "$work/ca.key" -out "$work/ca.pem" 2> /dev/null
openssl req -newkey rsa:2048 -nodes -subj "/CN=localhost" -keyout "$work/server.key" -out "$work/server.csr" \
    2> /dev/null
printf 'subjectAltName=DNS:localhost\n' > "$work/san.ext"
openssl x509 -req -in "$work/server.csr" -CA "$work/ca.pem" -CAkey "$work/ca.key" -CAcreateserial -days 1 \
    -extfile "$work/san.ext" -out "$work/server.pem" 2> /dev/null

echo "=== agent server, and a TLS proxy in front of it"
"$server_bin" --port 0 --tokens "alice-token=alice" > "$work/server.log" 2>&1 &
server_pid=$!
port="$(listening_port "$work/server.log" "agent-server listening on")"
python3 - "$work" "$port" > "$work/proxy.log" 2>&1 <<'PY' &
import asyncio, ssl, sys
work, backend = sys.argv[1], int(sys.argv[2])
context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
context.load_cert_chain(f"{work}/server.pem", f"{work}/server.key")

async def pipe(reader, writer):
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except Exception:
        pass
    finally:
        writer.close()

async def handle(client_reader, client_writer):
    server_reader, server_writer = await asyncio.open_connection("127.0.0.1", backend)
    await asyncio.gather(pipe(client_reader, server_writer), pipe(server_reader, client_writer))

async def main():
    server = await asyncio.start_server(handle, "127.0.0.1", 0, ssl=context)
    print("proxy listening on", server.sockets[0].getsockname()[1], flush=True)
    await server.serve_forever()

asyncio.run(main())
PY
proxy_pid=$!
proxy="$(listening_port "$work/proxy.log" "proxy listening on")"

echo "=== a client over wss://localhost:$proxy, trusting the CA: its run must be confirmed"
"$tls_client" run --url "wss://localhost:$proxy/eventack" --runs-url "http://127.0.0.1:$port" --token alice-token \
    --ca-file "$work/ca.pem" --runs quick --timeout 60 --quiet | tee "$work/trusted.log" | tail -4
grep -q "summary: 1 of 1 runs ended" "$work/trusted.log" || { echo "FAIL: the run did not end over wss://"; exit 1; }
grep -q "close: the server confirmed having every" "$work/trusted.log" || { echo "FAIL: not confirmed over wss://"; exit 1; }

echo "=== the same without --ca-file: every attempt fails, as a connectFailed signal"
"$tls_client" run --url "wss://localhost:$proxy/eventack" --runs-url "http://127.0.0.1:$port" --token alice-token \
    --runs quick --timeout 3 > "$work/untrusted.log" 2>&1 || true
grep -m1 "connectFailed" "$work/untrusted.log" || { echo "FAIL: no connectFailed signal"; exit 1; }
if grep -q "signal: connected" "$work/untrusted.log"; then echo "FAIL: connected to an untrusted server"; exit 1; fi
echo "tls passed (logs in $work)"
