"""A network of Linux namespaces for partition tests, made and removed by the test itself.

One namespace holds a bridge (the "switch"); every member (Redis, each gateway, each worker)
gets a namespace of its own, joined to the switch by a veth pair, with an address in a
private /24 chosen at random. The test process reaches the members through one more veth
pair whose other end it keeps; no traffic goes anywhere but to addresses inside namespaces
the rig made. A cut is made on a member's own link (down, then up); delay and loss between
workers and Redis by a proxy between them (:mod:`tests.partition.delay_proxy`), since
kernels without ``sch_netem`` (this one among them) have no ``tc netem``.
"""

from __future__ import annotations

import os
import random
import secrets
import signal
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from tests.servers import wait_until

ROOT = Path(__file__).parents[2]


def sh(*argv: str, netns: str | None = None) -> None:
    """Run an ``ip``/``tc`` command (in ``netns``), failing loudly."""
    prefix = ["ip", "netns", "exec", netns] if netns else []
    subprocess.run([*prefix, *argv], check=True, capture_output=True)


def netns_available() -> str | None:
    """Why this machine cannot run the rig, or None."""
    probe = f"iqprobe{secrets.token_hex(3)}"
    made = subprocess.run(["ip", "netns", "add", probe], capture_output=True, text=True, check=False)
    if made.returncode != 0:
        return f"no network namespaces here: {made.stderr.strip()}"
    subprocess.run(["ip", "netns", "del", probe], capture_output=True, check=False)
    return None


@dataclass
class Member:
    """One namespace on the switch, and the processes started in it."""

    name: str
    netns: str
    address: str
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def start(self, argv: list[str], log: Path, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
        with log.open("ab") as out:
            proc = subprocess.Popen(
                ["ip", "netns", "exec", self.netns, *argv],
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                cwd=ROOT,
                env={**os.environ, **(env or {})},
            )
        self.procs.append(proc)
        return proc

    def cut(self) -> None:
        """Nothing in or out of this member until :meth:`heal`."""
        sh("ip", "link", "set", "eth0", "down", netns=self.netns)

    def heal(self) -> None:
        sh("ip", "link", "set", "eth0", "up", netns=self.netns)

    def stop(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)


class Rig:
    """The switch and its members; :meth:`close` removes every namespace and link it made."""

    def __init__(self) -> None:
        self.tag = secrets.token_hex(2)
        self.subnet = f"10.213.{random.randint(1, 250)}"
        self.switch = f"iq{self.tag}sw"
        self.members: dict[str, Member] = {}
        self._host_link = f"iq{self.tag}h"
        sh("ip", "netns", "add", self.switch)
        sh("ip", "link", "add", "br0", "type", "bridge", netns=self.switch)
        sh("ip", "link", "set", "br0", "up", netns=self.switch)
        sh("ip", "link", "set", "lo", "up", netns=self.switch)
        # the test process's own way in: one end here, the other on the switch
        sh("ip", "link", "add", self._host_link, "type", "veth", "peer", "name", f"iq{self.tag}hs")
        self._plug(f"iq{self.tag}hs")
        sh("ip", "addr", "add", f"{self.subnet}.1/24", "dev", self._host_link)
        sh("ip", "link", "set", self._host_link, "up")

    def _plug(self, link: str) -> None:
        sh("ip", "link", "set", link, "netns", self.switch)
        sh("ip", "link", "set", link, "master", "br0", netns=self.switch)
        sh("ip", "link", "set", link, "up", netns=self.switch)

    def add(self, name: str) -> Member:
        index = len(self.members) + 2
        netns = f"iq{self.tag}{name}"
        sh("ip", "netns", "add", netns)
        outside, inside = f"iq{self.tag}{index}s", f"iq{self.tag}{index}m"
        sh("ip", "link", "add", outside, "type", "veth", "peer", "name", inside)
        self._plug(outside)
        sh("ip", "link", "set", inside, "netns", netns)
        sh("ip", "link", "set", inside, "name", "eth0", netns=netns)
        address = f"{self.subnet}.{index}"
        sh("ip", "addr", "add", f"{address}/24", "dev", "eth0", netns=netns)
        sh("ip", "link", "set", "eth0", "up", netns=netns)
        sh("ip", "link", "set", "lo", "up", netns=netns)
        member = Member(name, netns, address)
        self.members[name] = member
        return member

    def close(self) -> None:
        for member in self.members.values():
            member.stop()
            subprocess.run(["ip", "netns", "del", member.netns], capture_output=True, check=False)
        subprocess.run(["ip", "link", "del", self._host_link], capture_output=True, check=False)
        subprocess.run(["ip", "netns", "del", self.switch], capture_output=True, check=False)


def wait_port(address: str, port: int, what: str) -> None:
    import socket

    def up() -> bool:
        try:
            socket.create_connection((address, port), timeout=1).close()
        except OSError:
            return False
        return True

    wait_until(up, 30, what)
