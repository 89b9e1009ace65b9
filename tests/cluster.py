"""Replicas on real engines, for the scale-out test and bench/replicas.py: Rasa servers and action servers
sharing one PostgreSQL server (the tracker store and the shopper store, each its own database) and one
Redis lock store, with a load balancer before the action servers played by this process.
"""

from __future__ import annotations

import itertools
import secrets
import shutil
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import redis

from bot.servers import HOST, endpoints_for, free_port, post_message, spawn_action_server, spawn_rasa_server, stop
from recommender import config
from tests.postgres_server import USER, PostgresServer

ACTION_TIMEOUT_S = 120


class Balancer(ThreadingHTTPServer):
    """The load balancer before the action servers: each request goes to the action server ``to`` names (its
    index in ``upstreams``), or to each in turn while ``to`` is None; ``served`` counts what each answered."""

    daemon_threads = True

    def __init__(self, upstreams: list[str]) -> None:
        super().__init__((HOST, free_port()), _Forward)
        self.upstreams, self.served = upstreams, Counter[int]()
        self.to: int | None = None
        self._turns = itertools.cycle(range(len(upstreams)))
        self._lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.server_address[1]}/webhook"

    def pick(self) -> int:
        with self._lock:
            return next(self._turns) if self.to is None else self.to


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
        self.server.served[to] += 1
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        """Quiet: the callers read the counts, not a log."""


@dataclass
class Cluster:
    """Rasa servers and action servers on one PostgreSQL, the Redis lock store between the Rasa servers, the
    balancer before the action servers."""

    rasa: list[str]  # each Rasa server's REST webhook
    rasa_processes: list[subprocess.Popen]
    balancer: Balancer
    conversations: str  # the tracker store's database URL
    shop: str  # the shopper store's database URL

    def send(self, rasa: int, sender: str, text: str, actions: int | None = None,
             message_id: str | None = None) -> list[dict]:
        """One turn through Rasa server ``rasa`` and action server ``actions`` (None: the balancer's turn)."""
        self.balancer.to = actions
        return post_message(self.rasa[rasa], sender, text, message_id=message_id)


@contextmanager
def redis_running(folder: Path) -> Iterator[redis.Redis]:
    """A throwaway redis-server on a free 127.0.0.1 port (no persistence, its own folder), stopped at the end."""
    port = free_port()
    process = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", HOST, "--save", "", "--appendonly", "no",
         "--dir", str(folder), "--logfile", str(folder / "redis.log")],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, start_new_session=True)
    client = redis.Redis(host=HOST, port=port, socket_timeout=10)
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
                    action_servers: int = 2) -> Iterator[Cluster]:
    """Start the replicas on new databases of ``postgres`` (the caller's environment has $PGPASSWORD and
    whatever else they need), the action servers on a copy of the set-up's files in ``folder`` (a forget
    writes the catalog and the model there, not in var/; the record of forgotten shoppers is a table of the
    shop's database, under a key of the cluster's own); stop them all at the end."""
    conversations, shop = postgres.database(), postgres.database()
    processes: list[subprocess.Popen] = []
    balancer: Balancer | None = None
    cache = folder / "var"
    shutil.copytree(config.cache_dir(), cache, ignore=shutil.ignore_patterns(
        "pycache", "*.lock", "shop*", "conversations.db*", "secrets", "artifacts"))
    env = {"SHOPBOT_STORE": shop, "SHOPBOT_CACHE": str(cache),  # carts, orders, likes in PostgreSQL
           "SHOPBOT_FORGET_KEY": secrets.token_hex(32)}  # the same on every action server, as in deployment.md
    try:
        starting = []
        for n in range(action_servers):
            port = free_port()
            starting.append((port, spawn_action_server(port, folder / f"actions-{n + 1}.log", env=env)))
            processes.append(starting[-1][1].process)
        balancer = Balancer([f"http://{HOST}:{port}" for port, _ in starting])
        threading.Thread(target=balancer.serve_forever, daemon=True).start()
        endpoints = endpoints_for(
            0, folder, action_url=balancer.url,
            tracker_store={"type": "bot.tracker_store.ForgettingSQLTrackerStore", "dialect": "postgresql",
                           "url": HOST, "port": postgres.port, "db": conversations.rsplit("/", 1)[1],
                           "username": USER, "password": "${PGPASSWORD}"},
            lock_store={"type": "bot.lock_store.AtomicRedisLockStore", "url": HOST, "port": redis_port, "db": 0,
                        "key_prefix": "shopbot" + "".join(c for c in folder.name if c.isalnum())})  # Rasa: [a-z0-9]
        rasa, rasa_processes = [], []
        for n in range(rasa_servers):  # one Rasa server at a time (each start is heavy)
            port = free_port()
            server = spawn_rasa_server(model, port, endpoints, folder / f"rasa-{n + 1}.log", timeout=600)
            processes.append(server.process)
            rasa_processes.append(server.process)
            server.ready()
            rasa.append(f"http://{HOST}:{port}/webhooks/rest/webhook")
        for _, action_server in starting:
            action_server.ready()
        yield Cluster(rasa, rasa_processes, balancer, conversations, shop)
    finally:
        if balancer is not None:
            balancer.shutdown()
            balancer.server_close()
        with ThreadPoolExecutor(max(len(processes), 1)) as pool:  # each may take its 15 s to stop
            list(pool.map(stop, processes))
