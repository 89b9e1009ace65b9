"""Scale-out on one machine: two Rasa servers, one tracker store, one Redis lock store (issue 6).

The module starts Debian's redis-server on a free loopback port, one action server, and two `rasa run`
processes (A and B) with the same endpoints: the same SQLite tracker store file, the same Redis lock
store, the same action server. One conversation's turns then go alternately to A and B, as a load
balancer without sticky sessions would send them. Replies are checked against the catalog file and
the stored turns against the tracker file, not against the code's own output. docs/deployment.md
says how this maps onto a production deployment and what it does not show.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing, contextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import pytest
import redis
from bot.lock_store import AtomicRedisLockStore
from bot.servers import HOST, endpoints_for, free_port, post_message, spawn_action_server, spawn_rasa_server, stop
from recommender import config

pytestmark = pytest.mark.slow

KEY_PREFIX = "shopbot"  # the lock of conversation X is the Redis key "shopbot:lock:X"


@dataclass
class Cluster:
    """Two Rasa servers sharing one tracker store file, one Redis lock store and one action server."""

    urls: dict[str, str]  # "a"/"b" -> the server's REST webhook
    tracker_db: Path
    redis: redis.Redis
    locks: AtomicRedisLockStore  # the lock store as the servers see it, for this test process to hold a lock

    def send(self, server: str, sender: str, text: str) -> list[dict]:
        return post_message(self.urls[server], sender, text)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory, redis_server: redis.Redis,
            trained_model: Path) -> Iterator[Cluster]:
    folder = tmp_path_factory.mktemp("scale-out")
    port = redis_server.connection_pool.connection_kwargs["port"]
    processes: list[subprocess.Popen] = []
    with pytest.MonkeyPatch.context() as env:
        env.setenv("SHOPBOT_STORE", str(folder / "shop.db"))     # carts of this module stay apart
        try:
            action_port = free_port()
            actions = spawn_action_server(action_port, folder / "actions.log")
            processes.append(actions.process)
            endpoints = endpoints_for(action_port, folder, folder / "conversations.db", lock_store={
                "type": "bot.lock_store.AtomicRedisLockStore", "url": HOST, "port": port, "db": 0,
                "key_prefix": KEY_PREFIX})
            urls = {}
            # One Rasa server at a time (each start is heavy), the first loading beside the action server.
            for name in ("a", "b"):
                rasa_port = free_port()
                rasa = spawn_rasa_server(trained_model, rasa_port, endpoints, folder / f"rasa-{name}.log", timeout=600)
                processes.append(rasa.process)
                actions.ready()
                rasa.ready()
                urls[name] = f"http://{HOST}:{rasa_port}/webhooks/rest/webhook"
            yield Cluster(urls, folder / "conversations.db", redis_server,
                          AtomicRedisLockStore(host=HOST, port=port, db=0, key_prefix=KEY_PREFIX))
        finally:
            with ThreadPoolExecutor(3) as pool:                      # each may take its 15 s to stop
                list(pool.map(stop, processes))


@pytest.fixture(scope="module")
def catalog_db() -> Iterator[sqlite3.Connection]:
    with closing(sqlite3.connect(f"file:{config.catalog_path()}?mode=ro", uri=True)) as db:
        yield db


def shown_products(replies: list[dict]) -> list[dict]:
    """The product cards of the replies' custom payloads."""
    return [p for reply in replies for p in (reply.get("custom") or {}).get("products", [])]


def payload(replies: list[dict], key: str) -> dict:
    """The first custom payload's `key` (``"product"``, ``"cart"``) among the replies."""
    return next(r["custom"][key] for r in replies if key in (r.get("custom") or {}))


def facts(db: sqlite3.Connection, cards: list[dict]) -> list[tuple[str, str, float]]:
    """(brand, category, price) of each card's product, from the catalog file, in card order."""
    found = [db.execute("SELECT brand, category, price FROM products WHERE id = ?", [c["id"]]).fetchone()
             for c in cards]
    assert None not in found, "a card names a product that is not in the catalog"
    return found


def stored_turns(tracker_db: Path, sender: str) -> list[tuple[str, list[str]]]:
    """The sender's turns in the tracker file, in stored order: each user text with the actions after it."""
    turns: list[tuple[str, list[str]]] = []
    with closing(sqlite3.connect(f"file:{tracker_db}?mode=ro", uri=True)) as db:
        for kind, action, data in db.execute(
                "SELECT type_name, action_name, data FROM events WHERE sender_id = ? ORDER BY id", [sender]):
            if kind == "user":
                turns.append((json.loads(data)["text"], []))
            elif kind == "action" and turns:
                turns[-1][1].append(action)
    return turns


def redis_calls(client: redis.Redis) -> dict[str, int]:
    """Redis command name -> number of calls since the server started."""
    return {name.removeprefix("cmdstat_"): stats["calls"] for name, stats in client.info("commandstats").items()}


def wait_for(condition: Callable[[], bool], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def tickets(cluster: Cluster, sender: str) -> int:
    """How many tickets (the one being served included) the sender's conversation lock holds in Redis."""
    lock = cluster.locks.get_lock(sender)
    return len(lock.tickets) if lock else 0


@contextmanager
def holding_lock(cluster: Cluster, sender: str) -> Iterator[Callable[[], None]]:
    """Take the conversation's ticket in Redis, as a turn on another replica would; yield the function
    that returns it (it is returned at the latest when the block ends, so a failing test never leaves
    a server waiting)."""
    ticket = cluster.locks.issue_ticket(sender, lock_lifetime=60)
    release = partial(cluster.locks.cleanup, sender, ticket)
    try:
        yield release
    finally:
        release()                                                   # a second return changes nothing


def test_one_conversation_alternating_between_two_servers_stays_consistent(
        cluster: Cluster, catalog_db: sqlite3.Connection) -> None:
    sender, before = "scale-alternating", redis_calls(cluster.redis)
    brand = catalog_db.execute(                                     # the brand with most cheap shampoos
        "SELECT brand FROM products WHERE category = 'Shampoos' AND price <= 10 AND brand IS NOT NULL"
        " GROUP BY brand ORDER BY count(*) DESC LIMIT 1").fetchone()[0]

    first = shown_products(cluster.send("a", sender, "show me shampoo under $10"))
    assert first and all(c == "Shampoos" and p <= 10 for _, c, p in facts(catalog_db, first))

    more = shown_products(cluster.send("b", sender, "show me more"))  # A's search, its next page
    assert more and all(c == "Shampoos" and p <= 10 for _, c, p in facts(catalog_db, more))
    assert not {p["id"] for p in more} & {p["id"] for p in first}

    branded = shown_products(cluster.send("a", sender, f"only {brand}"))  # B's filters carried over
    assert len(branded) >= 2
    assert all(b == brand and c == "Shampoos" and p <= 10 for b, c, p in facts(catalog_db, branded))

    detail = payload(cluster.send("b", sender, "tell me about the second one"), "product")
    assert detail["id"] == branded[1]["id"]                          # the list A showed

    cluster.send("a", sender, "add the first one to my cart")
    replies = cluster.send("b", sender, "what's in my cart?")
    cart = payload(replies, "cart")
    price = catalog_db.execute("SELECT price FROM products WHERE id = ?", [branded[0]["id"]]).fetchone()[0]
    assert [line["id"] for line in cart["lines"]] == [branded[0]["id"]]
    assert cart["total"] == pytest.approx(price)

    texts = ["show me shampoo under $10", "show me more", f"only {brand}", "tell me about the second one",
             "add the first one to my cart", "what's in my cart?"]
    assert [text for text, _ in stored_turns(cluster.tracker_db, sender)] == texts
    calls = redis_calls(cluster.redis)                               # each turn took the lock in Redis:
    assert calls.get("set", 0) - before.get("set", 0) >= len(texts)      # ticket issued,
    assert calls.get("del", 0) - before.get("del", 0) >= len(texts)      # then returned: nobody waiting,
    assert calls.get("exec", 0) - before.get("exec", 0) >= 2 * len(texts)  # the lock deleted; transactions


@pytest.mark.parametrize("server", ["a", "b"])
def test_each_server_waits_while_another_process_holds_the_conversation_lock_in_redis(
        cluster: Cluster, server: str) -> None:
    sender = f"scale-held-lock-{server}"
    with ThreadPoolExecutor(1) as pool, holding_lock(cluster, sender) as release:
        reply = pool.submit(cluster.send, server, sender, "show me lipstick")
        wait_for(lambda: tickets(cluster, sender) == 2)             # the server queued behind us ...
        time.sleep(3)
        assert not reply.done()                                      # ... and waits
        release()
        assert shown_products(reply.result(timeout=180))
    assert not cluster.redis.exists(f"{KEY_PREFIX}:lock:{sender}")  # served, then released


def test_two_messages_in_flight_at_once_one_to_each_server_are_served_in_turn_and_both_stored(
        cluster: Cluster, catalog_db: sqlite3.Connection) -> None:
    sender = "scale-concurrent"
    cluster.send("a", sender, "hello")
    # Both messages are in flight at once, one on each server. This process holds the conversation's
    # lock until both are queued behind it, so that their turns surely overlap (two requests sent "at the
    # same moment" may as well be served one after the other on a quiet machine). Tickets taken at the
    # same moment by two servers are tests/test_lock_store.py's subject.
    with ThreadPoolExecutor(2) as pool, holding_lock(cluster, sender) as release:
        shampoo = pool.submit(cluster.send, "a", sender, "show me shampoo")
        wait_for(lambda: tickets(cluster, sender) == 2)
        lipstick = pool.submit(cluster.send, "b", sender, "show me lipstick")
        wait_for(lambda: tickets(cluster, sender) == 3)
        time.sleep(2)
        assert not shampoo.done() and not lipstick.done()           # both wait for the lock in Redis
        release()
        replies = {"Shampoos": shampoo.result(timeout=180), "Lipstick": lipstick.result(timeout=180)}

    for category, reply in replies.items():
        cards = shown_products(reply)
        assert cards and all(c == category for _, c, _ in facts(catalog_db, cards)), (category, cards)

    turns = stored_turns(cluster.tracker_db, sender)                # no turn lost, none stored twice,
    assert [text for text, _ in turns] == ["hello", "show me shampoo", "show me lipstick"]  # in order
    for text, actions in turns:                                     # and not interleaved: each turn ran
        assert len(actions) >= 2 and actions.count("action_listen") == 1, (text, actions)  # its actions,
        assert actions[-1] == "action_listen", (text, actions)       # then listened

    detail = payload(cluster.send("a", sender, "tell me about the first one"), "product")
    assert detail["id"] == shown_products(replies["Lipstick"])[0]["id"]  # B's list, the later one
