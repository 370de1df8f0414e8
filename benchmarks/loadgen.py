"""A lean load generator for the tracking API: numbered `/v1/batch` requests over keep-alive HTTP/1.1 connections.

Runs as its own process (`python benchmarks/loadgen.py URL WRITE_KEY TOTAL [--batch 100] [--connections 16]`) so
the server under test gets the machine's other core. Bodies are built on the fly from a template (every event has
its own messageId, so nothing is deduplicated away); responses are read just far enough to check `200`. Prints one
JSON line: events acknowledged, requests, seconds, and non-200 answers.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import time
from urllib.parse import urlsplit

EVENT = (
    '{"type":"track","event":"Order Completed","userId":"user-%(n)d","messageId":"%(run)s-%(n)d",'
    '"timestamp":"2024-05-01T09:00:00.000Z","context":{"library":{"name":"loadgen","version":"1"}},'
    '"properties":{"n":%(n)d,"total":49.9,"currency":"EUR","sku":"sku-%(n)d"}}'
)


def batch_body(run: str, first: int, size: int) -> bytes:
    events = ",".join(EVENT % {"n": n, "run": run} for n in range(first, first + size))
    return ('{"batch":[' + events + "]}").encode()


async def connection(
    host: str, port: int, auth: str, run: str, batches: asyncio.Queue[int], size: int, stats: dict[str, int]
) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    head = (
        f"POST /v1/batch HTTP/1.1\r\nHost: {host}:{port}\r\nAuthorization: Basic {auth}\r\n"
        "Content-Type: application/json\r\nContent-Length: %d\r\n\r\n"
    )
    while True:
        try:
            first = batches.get_nowait()
        except asyncio.QueueEmpty:
            break
        body = batch_body(run, first, size)
        writer.write((head % len(body)).encode() + body)
        status_line = await reader.readline()
        length = 0
        while True:
            line = await reader.readline()
            if line in (b"\r\n", b""):
                break
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        await reader.readexactly(length)
        if status_line.split(b" ", 2)[1] == b"200":
            stats["events"] += size
            stats["requests"] += 1
        else:
            stats["errors"] += 1
    writer.close()


async def main_async(url: str, write_key: str, total: int, size: int, connections: int, run: str) -> dict[str, float]:
    parts = urlsplit(url)
    auth = base64.b64encode(f"{write_key}:".encode()).decode()
    batches: asyncio.Queue[int] = asyncio.Queue()
    for first in range(0, total, size):
        batches.put_nowait(first)
    stats = {"events": 0, "requests": 0, "errors": 0}
    started = time.perf_counter()
    await asyncio.gather(
        *(
            connection(parts.hostname or "127.0.0.1", parts.port or 80, auth, run, batches, size, stats)
            for _ in range(connections)
        )
    )
    return {**stats, "seconds": time.perf_counter() - started}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("url")
    parser.add_argument("write_key")
    parser.add_argument("total", type=int)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--run", default="r", help="messageId prefix (distinct runs never collide)")
    args = parser.parse_args()
    coro = main_async(args.url, args.write_key, args.total, args.batch, args.connections, args.run)
    try:
        import uvloop
    except ImportError:
        result = asyncio.run(coro)
    else:
        result = uvloop.run(coro)
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
