"""Hosts of their own on this machine, for the scale-out test: Linux network namespaces on one bridge, each
with its own address and nothing else listening, as machines on one network are. A server is put on a
host by starting it under the host's ``launcher`` (``ip netns exec``). Needs root and iproute2's ``ip``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass

from bot.servers import HOST

PREFIX = 24


@dataclass(frozen=True)
class Host:
    """A network namespace: its name, its address on the bridge, and the command that runs a program in it."""

    name: str  # "": this machine itself, on loopback
    address: str

    @property
    def launcher(self) -> tuple[str, ...]:
        return ("ip", "netns", "exec", self.name) if self.name else ()


HERE = Host("", HOST)


@dataclass(frozen=True)
class Network:
    """The bridge's address (this process's own on the network) and the hosts on it, by name."""

    address: str
    hosts: dict[str, Host]


def unavailable() -> str | None:
    """Why hosts cannot be made here, or None when they can."""
    if os.geteuid() != 0:
        return "making network namespaces needs root"
    if shutil.which("ip") is None:
        return "iproute2's ip is not installed (apt-get install iproute2)"
    return None


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, text=True, stdin=subprocess.DEVNULL)


@contextmanager
def network(names: Sequence[str]) -> Iterator[Network]:
    """A bridge on a subnet of this process's own (10.x.y.0/24 from its PID), a namespace per name joined to
    it (address .2, .3, ...: each namespace has only its loopback and that address); all deleted at the end."""
    tag = f"{os.getpid() % 100_000}"
    subnet = f"10.{200 + os.getpid() % 50}.{os.getpid() // 50 % 250}"
    bridge = f"sbbr{tag}"
    with ExitStack() as undo:
        _ip("link", "add", bridge, "type", "bridge")
        undo.callback(_ip, "link", "del", bridge)
        _ip("addr", "add", f"{subnet}.1/{PREFIX}", "dev", bridge)
        _ip("link", "set", bridge, "up")
        hosts = {}
        for n, name in enumerate(names, start=2):
            host = Host(f"shopbot{tag}-{name}", f"{subnet}.{n}")
            _ip("netns", "add", host.name)
            undo.callback(_ip, "netns", "del", host.name)
            cable = f"sb{tag}h{n}"  # this end on the bridge; the other is the host's eth0
            _ip("link", "add", cable, "type", "veth", "peer", "name", "eth0", "netns", host.name)
            _ip("link", "set", cable, "master", bridge, "up")
            _ip("-n", host.name, "addr", "add", f"{host.address}/{PREFIX}", "dev", "eth0")
            _ip("-n", host.name, "link", "set", "eth0", "up")
            _ip("-n", host.name, "link", "set", "lo", "up")
            hosts[name] = host
        yield Network(f"{subnet}.1", hosts)
