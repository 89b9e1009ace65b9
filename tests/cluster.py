"""Replicas on real engines, for the scale-out test and bench/replicas.py: Rasa servers and action servers
sharing one PostgreSQL server (the tracker store and the shopper store, each its own database) and one
Redis lock store, with a load balancer before the action servers played by this process.
"""

from __future__ import annotations

import itertools
import os
import secrets
import shutil
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import redis

from bot.servers import HOST, endpoints_for, free_port, post_message, spawn_action_server, spawn_rasa_server, stop
from recommender import config
from tests.hosts import HERE, Host
from tests.postgres_server import USER, PostgresServer

ACTION_TIMEOUT_S = 120
ACTION_PORT, RASA_PORT = 5055, 5005  # on a host of its own


class Balancer(ThreadingHTTPServer):
    """The load balancer before the action servers: each request goes to the action server ``to`` names (its
    index in ``upstreams``), or to each in turn while ``to`` is None, skipping those taken ``out`` of rotation;
    ``served`` counts what each answered, ``active`` what each is answering now."""

    daemon_threads = True

    def __init__(self, upstreams: list[str], address: str = HOST) -> None:
        super().__init__((address, free_port()), _Forward)
        self.upstreams, self.served, self.active = upstreams, Counter[int](), Counter[int]()
        self.to: int | None = None
        self.out: set[int] = set()
        self._turns = itertools.cycle(range(len(upstreams)))
        self._lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://{self.server_address[0]}:{self.server_address[1]}/webhook"

    def pick(self) -> int:
        with self._lock:
            if self.to is not None:
                chosen = self.to
            else:
                chosen = next(n for n in self._turns if n not in self.out)
            self.active[chosen] += 1
            return chosen

    def done(self, upstream: int) -> None:
        with self._lock:
            self.active[upstream] -= 1

    def drain(self, upstream: int, timeout: float = ACTION_TIMEOUT_S) -> None:
        """Take ``upstream`` out of rotation and wait until it answers no request."""
        if self.out | {upstream} >= set(range(len(self.upstreams))):
            raise ValueError("the last action server in rotation cannot be taken out")
        self.out.add(upstream)
        deadline = time.monotonic() + timeout
        while self.active[upstream]:
            if time.monotonic() > deadline:
                raise TimeoutError(f"action server {upstream} still answers {self.active[upstream]} requests")
            time.sleep(0.05)


class _Forward(BaseHTTPRequestHandler):
    server: Balancer

    def do_POST(self) -> None:  # noqa: N802 (http.server's name)
        body = self.rfile.read(int(self.headers["Content-Length"]))
        to = self.server.pick()
        request = urllib.request.Request(
            self.server.upstreams[to] + self.path, data=body, method="POST",
            headers={name: self.headers[name] for name in ("Content-Type", "Authorization") if self.headers[name]})
        try:
            with urllib.request.urlopen(request, timeout=ACTION_TIMEOUT_S) as answer:
                status, data = answer.status, answer.read()
        except urllib.error.HTTPError as e:
            status, data = e.code, e.read()
        finally:
            self.server.done(to)
        self.server.served[to] += 1
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        """Quiet: the callers read the counts, not a log."""


@dataclass
class ActionServer:
    """One action server of the cluster: its process, the folder of the shop's files it reads (its host's
    copy of `shopbot setup`'s output: $SHOPBOT_CACHE) and its host."""

    process: subprocess.Popen
    cache: Path
    host: Host


@dataclass(frozen=True)
class Placement:
    """Where the cluster's servers run: all on this machine's loopback, or each on a host of tests/hosts.py."""

    here: str = HOST  # this process's address on the servers' network: the balancer's
    redis: str = HOST  # the Redis lock store's
    action_servers: Sequence[Host] = ()  # each action server's host; none: all here
    rasa_servers: Sequence[Host] = ()

    def action_server(self, n: int) -> Host:
        return self.action_servers[n] if self.action_servers else HERE

    def rasa_server(self, n: int) -> Host:
        return self.rasa_servers[n] if self.rasa_servers else HERE


def port_on(host: Host, default: int) -> int:
    """The port a server listens on: its usual one on a host of its own, else a free one of this machine."""
    return default if host.launcher else free_port()


@dataclass
class Cluster:
    """Rasa servers and action servers on one PostgreSQL, the Redis lock store between the Rasa servers, the
    balancer before the action servers."""

    rasa: list[str]  # each Rasa server's REST webhook
    rasa_processes: list[subprocess.Popen]
    balancer: Balancer
    conversations: str  # the tracker store's database URL
    shop: str  # the shopper store's database URL
    actions: list[ActionServer]
    env: dict[str, str]  # what every action server's environment adds ($SHOPBOT_STORE, ...)
    folder: Path  # the logs

    def send(self, rasa: int, sender: str, text: str, actions: int | None = None,
             message_id: str | None = None) -> list[dict]:
        """One turn through Rasa server ``rasa`` and action server ``actions`` (None: the balancer's turn)."""
        self.balancer.to = actions
        return post_message(self.rasa[rasa], sender, text, message_id=message_id)

    def take_out(self, n: int) -> None:
        """Take action server ``n`` out of the balancer's rotation and stop it once it answers nothing."""
        self.balancer.drain(n)
        stop(self.actions[n].process)

    def bring_back(self, n: int, cache: Path) -> None:
        """Start action server ``n`` again, on its host, on the shop's files in ``cache`` (a new build), and put
        it back in the balancer's rotation once it is ready."""
        host = self.actions[n].host
        port = port_on(host, ACTION_PORT)
        starting = spawn_action_server(port, self.folder / f"actions-{n + 1}-{cache.name}.log", host.address,
                                       env={**self.env, "SHOPBOT_CACHE": str(cache)}, launcher=host.launcher)
        self.actions[n] = ActionServer(starting.process, cache, host)
        starting.ready()
        self.balancer.upstreams[n] = f"http://{host.address}:{port}"
        self.balancer.out.discard(n)


def copy_of_setup(folder: Path) -> Path:
    """A copy of the set-up's files (catalog, embeddings, models; no shopper store, conversations or secrets) in
    ``folder``: another host's, or a test's own to write in."""
    shutil.copytree(config.cache_dir(), folder, ignore=shutil.ignore_patterns(
        "pycache", "*.lock", "shop*.db*", "conversations.db*", "secrets", "artifacts"))  # cf/shopbot.pt is kept
    return folder


@contextmanager
def redis_running(folder: Path, host: Host = HERE, password: str | None = None) -> Iterator[redis.Redis]:
    """A throwaway redis-server on a free 127.0.0.1 port, or on ``host``'s address, asking ``password`` if given
    (read from its standard input, not its command line), with no persistence and its own folder; stopped at the
    end."""
    port = 6379 if host.launcher else free_port()  # a host of its own has every port free
    process = subprocess.Popen(
        [*host.launcher, "redis-server", "-", "--port", str(port), "--bind", host.address, "--save", "",
         "--appendonly", "no", "--dir", str(folder), "--logfile", str(folder / "redis.log")],
        stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, start_new_session=True)
    with process.stdin:  # its configuration: read to the end before it starts
        process.stdin.write(f"requirepass {password}\n".encode() if password else b"")
    client = redis.Redis(host=host.address, port=port, password=password, socket_timeout=10)
    try:
        deadline = time.monotonic() + 30
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"redis-server exited: {(folder / 'redis.log').read_text()}")
            try:
                if client.ping():
                    break
            except redis.ConnectionError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        yield client
    finally:
        client.close()
        stop(process)


@contextmanager
def cluster_running(model: Path, folder: Path, postgres: PostgresServer, redis_port: int, rasa_servers: int = 2,
                    action_servers: int = 2, placement: Placement = Placement()) -> Iterator[Cluster]:
    """Start the replicas on new databases of ``postgres`` (the caller's environment has $PGPASSWORD, Redis's
    password in $SHOPBOT_REDIS_PASSWORD if it asks one, and whatever else they need), each action server on its
    own copy of the set-up's files in ``folder`` (var-1, var-2, ...: as on hosts of their own; a forget writes the
    catalog and the model there, not in var/; the record of forgotten shoppers is a table of the shop's database,
    under a key of the cluster's own); stop them all at the end. ``placement``: where each server runs
    (``postgres`` and Redis are where they were started)."""
    conversations, shop = postgres.database(), postgres.database()
    processes: list[subprocess.Popen] = []
    balancer: Balancer | None = None
    env = {"SHOPBOT_STORE": shop,  # carts, orders, likes in PostgreSQL
           "SHOPBOT_FORGET_KEY": secrets.token_hex(32)}  # the same on every action server, as in deployment.md
    actions: list[ActionServer] = []
    try:
        starting = []
        for n in range(action_servers):  # each on its own copy of the files, as on its own host
            host, cache = placement.action_server(n), copy_of_setup(folder / f"var-{n + 1}")
            port = port_on(host, ACTION_PORT)
            starting.append((port, spawn_action_server(port, folder / f"actions-{n + 1}.log", host.address,
                                                       env={**env, "SHOPBOT_CACHE": str(cache)},
                                                       launcher=host.launcher)))
            actions.append(ActionServer(starting[-1][1].process, cache, host))
        balancer = Balancer([f"http://{a.host.address}:{port}" for a, (port, _) in zip(actions, starting)],
                            placement.here)
        threading.Thread(target=balancer.serve_forever, daemon=True).start()
        endpoints = endpoints_for(
            0, folder, action_url=balancer.url,
            tracker_store={"type": "bot.tracker_store.ForgettingSQLTrackerStore", "dialect": "postgresql",
                           "url": postgres.host.address, "port": postgres.port,
                           "db": conversations.rsplit("/", 1)[1], "username": USER, "password": "${PGPASSWORD}"},
            lock_store={"type": "bot.lock_store.AtomicRedisLockStore", "url": placement.redis, "port": redis_port,
                        "db": 0, "key_prefix": "shopbot" + "".join(c for c in folder.name if c.isalnum()),  # [a-z0-9]
                        **({"password": "${SHOPBOT_REDIS_PASSWORD}"} if os.environ.get("SHOPBOT_REDIS_PASSWORD")
                           else {})})
        rasa, rasa_processes = [], []
        for n in range(rasa_servers):  # one Rasa server at a time (each start is heavy)
            host = placement.rasa_server(n)
            port = port_on(host, RASA_PORT)
            server = spawn_rasa_server(model, port, endpoints, folder / f"rasa-{n + 1}.log", host.address,
                                       timeout=600, launcher=host.launcher)
            processes.append(server.process)
            rasa_processes.append(server.process)
            server.ready()
            rasa.append(f"http://{host.address}:{port}/webhooks/rest/webhook")
        for _, action_server in starting:
            action_server.ready()
        yield Cluster(rasa, rasa_processes, balancer, conversations, shop, actions, env, folder)
    finally:
        if balancer is not None:
            balancer.shutdown()
            balancer.server_close()
        every = processes + [a.process for a in actions]
        with ThreadPoolExecutor(max(len(every), 1)) as pool:  # each may take its 15 s to stop
            list(pool.map(stop, every))
