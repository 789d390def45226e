"""500 slow-header clients against a running Roster, with ordinary requests alongside.

Each slow client opens a connection and sends one byte of a request's headers every 0.5 s;
meanwhile an ordinary client sends a GET /healthz every 50 ms over fresh connections. Passes
when every slow connection was closed by the server within the header timeout (plus 1 s of
slack) and every ordinary request was answered 200 in under 100 ms. Prints the figures.

    python slowloris.py HOST PORT HEADER_TIMEOUT_SECONDS
"""

import asyncio
import sys
import time

SLOW_CLIENTS = 500
BYTE_EVERY = 0.5
ORDINARY_EVERY = 0.05


async def slow_client(host, port, closed_after):
    try:
        reader, writer = await asyncio.open_connection(host, port)
    except OSError:
        closed_after.append(0.0)
        return
    started = time.monotonic()
    request = b"GET /healthz HTTP/1.1\r\nHost: roster\r\nX-Slow: " + b"a" * 200
    try:
        for byte in request:
            writer.write(bytes([byte]))
            await writer.drain()
            try:
                data = await asyncio.wait_for(reader.read(64), BYTE_EVERY)
                if not data:
                    break
            except asyncio.TimeoutError:
                continue
    except (ConnectionError, OSError):
        pass
    closed_after.append(time.monotonic() - started)
    writer.close()


async def ordinary(host, port, stop, latencies, failures):
    while not stop.is_set():
        started = time.monotonic()
        try:
            reader, writer = await asyncio.open_connection(host, port)
            writer.write(b"GET /healthz HTTP/1.1\r\nHost: roster\r\nConnection: close\r\n\r\n")
            await writer.drain()
            head = await asyncio.wait_for(reader.read(64), 5)
            writer.close()
            if not head.startswith(b"HTTP/1.1 200"):
                failures.append(head[:40])
        except (OSError, asyncio.TimeoutError) as e:
            failures.append(repr(e))
        latencies.append(time.monotonic() - started)
        await asyncio.sleep(ORDINARY_EVERY)


async def main(host, port, timeout):
    closed_after, latencies, failures = [], [], []
    stop = asyncio.Event()
    checker = asyncio.create_task(ordinary(host, port, stop, latencies, failures))
    await asyncio.sleep(0.2)
    await asyncio.wait_for(
        asyncio.gather(*(slow_client(host, port, closed_after) for _ in range(SLOW_CLIENTS))),
        timeout + 30,
    )
    stop.set()
    await checker
    latencies.sort()
    worst_slow = max(closed_after)
    worst = latencies[-1] * 1000
    p50 = latencies[len(latencies) // 2] * 1000
    print(
        f"slowloris: {SLOW_CLIENTS} slow clients closed after {min(closed_after):.2f}–"
        f"{worst_slow:.2f} s (header timeout {timeout:.0f} s); {len(latencies)} ordinary requests "
        f"alongside, p50 {p50:.1f} ms, worst {worst:.1f} ms, {len(failures)} failed",
        flush=True,
    )
    ok = worst_slow <= timeout + 1.0 and worst < 100 and not failures
    if not ok:
        print(f"slowloris: FAILED {failures[:5]}", file=sys.stderr, flush=True)
    return ok


if __name__ == "__main__":
    host, port, timeout = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
    sys.exit(0 if asyncio.run(main(host, port, timeout)) else 1)
