"""A TCP proxy that, while its control file exists, delays what it forwards and now and then
stalls as a lost packet's retransmission would: latency and loss between workers and Redis
on kernels without ``sch_netem``. ``python delay_proxy.py LISTEN_HOST:PORT TARGET_HOST:PORT CONTROL_FILE``"""

from __future__ import annotations

import asyncio
import json
import random
import sys
from pathlib import Path


async def pump(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, control: Path) -> None:
    try:
        while data := await reader.read(65536):
            if control.exists():
                fault = json.loads(control.read_text())
                delay = fault["delay_ms"] / 1000
                if random.random() < fault["loss_percent"] / 100:
                    delay += random.uniform(0.2, 1.0)  # a lost segment, sent again after a timeout
                await asyncio.sleep(delay)
            writer.write(data)
            await writer.drain()
    except ConnectionError:
        pass
    finally:
        writer.close()


async def main(listen: str, target: str, control: Path) -> None:
    target_host, target_port = target.rsplit(":", 1)

    async def connected(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        upstream_reader, upstream_writer = await asyncio.open_connection(target_host, int(target_port))
        await asyncio.gather(pump(reader, upstream_writer, control), pump(upstream_reader, writer, control))

    host, port = listen.rsplit(":", 1)
    server = await asyncio.start_server(connected, host, int(port))
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], Path(sys.argv[3])))
