"""Scale-out on real engines (issue 19): two Rasa servers and two action servers on one PostgreSQL server (the
tracker store and the shopper store, each its own database) with the Redis lock store.

The module starts a throwaway PostgreSQL server (tests/postgres_server.py) and redis-server, two action
servers, and two `rasa run` processes (A and B) whose action endpoint is a load balancer played by this
test (tests/cluster.py): it sends each request to the action server the test chose for the turn. One
conversation's turns then go to every combination of Rasa server and action server in turn. What the shopper sees is checked
against the catalog file, what is stored against PostgreSQL itself, by SQL.
"""

from __future__ import annotations

import itertools
import json
import sqlite3
import threading
import urllib.error
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import redis

from bot.channels import SORRY
from tests.cluster import Cluster, cluster_running
from tests.postgres_server import PostgresServer
from tests.stores import all_rows, sql
from tests.test_scale_out import catalog_db, facts, payload  # noqa: F401 (catalog_db: a fixture)
from tests.test_scale_out import shown_products as cards

pytestmark = pytest.mark.slow

LOCK_LIFETIME_S = 15  # a conversation lock a killed replica held is given up after this long (Rasa: 60 s)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory, postgres: PostgresServer, redis_server: redis.Redis,
            trained_model: Path) -> Iterator[Cluster]:
    with pytest.MonkeyPatch.context() as env:
        env.setenv("TICKET_LOCK_LIFETIME", str(LOCK_LIFETIME_S))
        with cluster_running(trained_model, tmp_path_factory.mktemp("scale-out-postgres"), postgres,
                             redis_server.connection_pool.connection_kwargs["port"]) as running:
            yield running


def text(replies: list[dict]) -> str:
    return " ".join(r.get("text", "") for r in replies)


def rows_naming(url: str, sender: str) -> list[tuple[str, tuple]]:
    """Every row of every table of the database that names the sender (in any column, as part of a value:
    the store keeps the channel's namespaced id)."""
    return [(table, row) for table, rows in all_rows(url).items() for row in rows
            if any(isinstance(value, str) and sender in value for value in row)]


def test_one_conversation_through_every_pair_of_replicas_stays_consistent_in_postgresql(
        cluster: Cluster, catalog_db: sqlite3.Connection) -> None:
    sender = "pg-scale-alternating"
    pairs = itertools.cycle([(0, 0), (1, 1), (0, 1), (1, 0)])  # every Rasa server with every action server

    def send(message: str) -> list[dict]:
        rasa, actions = next(pairs)
        return cluster.send(rasa, sender, message, actions)

    brand = catalog_db.execute(  # the brand with most cheap shampoos
        "SELECT brand FROM products WHERE category = 'Shampoos' AND price <= 10 AND brand IS NOT NULL"
        " GROUP BY brand ORDER BY count(*) DESC LIMIT 1").fetchone()[0]
    first = cards(send("show me shampoo under $10"))
    assert first and all(c == "Shampoos" and p <= 10 for _, c, p in facts(catalog_db, first))
    more = cards(send("show me more"))  # the search of the other pair, its next page
    assert more and all(c == "Shampoos" and p <= 10 for _, c, p in facts(catalog_db, more))
    assert not {p["id"] for p in more} & {p["id"] for p in first}
    branded = cards(send(f"only {brand}"))  # the filters carried over
    assert len(branded) >= 2 and all(b == brand and c == "Shampoos" and p <= 10
                                     for b, c, p in facts(catalog_db, branded))
    assert payload(send("tell me about the second one"), "product")["id"] == branded[1]["id"]
    send("add the first one to my cart")
    send("add the second one to my cart")
    cart = payload(send("what's in my cart?"), "cart")
    assert [line["id"] for line in cart["lines"]] == [branded[0]["id"], branded[1]["id"]]
    placed = text(send("checkout"))
    assert "placed" in placed, placed
    assert cluster.balancer.served[0] and cluster.balancer.served[1]

    (order_id, shopper), = sql(cluster.shop, "SELECT order_id, shopper_id FROM orders")
    assert sender in shopper and f"#{order_id}" in placed
    assert sql(cluster.shop, "SELECT product_id, quantity FROM order_items WHERE order_id = ? ORDER BY position",
               [order_id]) == [(branded[0]["id"], 1), (branded[1]["id"], 1)]  # each line once
    assert sql(cluster.shop, "SELECT count(*) FROM cart WHERE shopper_id = ?", [shopper]) == [(0,)]
    turns = [json.loads(data)["text"] for (data,) in sql(
        cluster.conversations, "SELECT data FROM events WHERE sender_id = ? AND type_name = 'user' ORDER BY id",
        [sender])]
    assert turns == ["show me shampoo under $10", "show me more", f"only {brand}", "tell me about the second one",
                     "add the first one to my cart", "add the second one to my cart", "what's in my cart?",
                     "checkout"]

    assert "Delete it all?" in text(send("delete all my data"))
    assert "deleted" in text(send("yes")).lower()
    assert rows_naming(cluster.shop, sender) == []  # nothing of theirs in the shopper store,
    assert sql(cluster.conversations, "SELECT count(*) FROM events WHERE sender_id = ?", [sender]) == [(0,)]
    assert sql(cluster.shop, "SELECT count(*) FROM forgotten_shoppers") == [(1,)]  # the record: one keyed hash


def test_a_rasa_replica_killed_mid_burst_loses_no_conversation_and_no_cart_line(cluster: Cluster) -> None:
    """Eight conversations at once, all on Rasa server A (action servers alternating); A is killed (SIGKILL)
    once a few turns are done. The client, as a load balancer would, sends a message that got no answer (an
    error, no reply, the guard's apology) again, with the same message id, to B. Runs last: A stays down."""
    script = ["show me shampoo", "add the first one to my cart", "add the second one to my cart",
              "what's in my cart?"]
    senders = [f"pg-failover-{n}" for n in range(8)]
    answered = threading.Semaphore(0)
    retried: list[str] = []

    def converse(n: int, sender: str) -> tuple[list[dict], list[dict]]:
        shown, cart = [], {}
        for turn, message in enumerate(script):
            message_id = f"{sender}-{turn}"
            try:
                replies = cluster.send(0, sender, message, n % 2, message_id)
            except (urllib.error.URLError, ConnectionError, TimeoutError):  # A died: the same message to B
                replies = []
            for _ in range(3):  # no reply, or the guard's apology: the same message to B (a balancer's retry)
                if replies and SORRY not in [r.get("text") for r in replies]:
                    break
                retried.append(message_id)
                replies = cluster.send(1, sender, message, n % 2, message_id)
            answered.release()
            shown = shown or cards(replies)
            cart = next((r["custom"]["cart"] for r in replies if "cart" in (r.get("custom") or {})), cart)
        return shown, cart["lines"] if cart else []

    with ThreadPoolExecutor(len(senders)) as pool:
        futures = [pool.submit(converse, n, sender) for n, sender in enumerate(senders)]
        for _ in range(len(senders)):  # a turn of each, on average, then A goes down mid-burst
            answered.acquire(timeout=300)
        cluster.rasa_processes[0].kill()
        results = [future.result(timeout=600) for future in futures]

    assert retried, "A was killed after every conversation had finished: no failover happened"
    for sender, (shown, lines) in zip(senders, results):
        assert len(shown) >= 2, sender
        assert [(line["id"], line["quantity"]) for line in lines] == [(shown[0]["id"], 1), (shown[1]["id"], 1)]
        assert sql(cluster.shop, "SELECT product_id, quantity FROM cart WHERE shopper_id = ? ORDER BY added_at",
                   [sender]) == [(shown[0]["id"], 1), (shown[1]["id"], 1)]  # no line lost, none doubled
        texts = [json.loads(data)["text"] for (data,) in sql(
            cluster.conversations, "SELECT data FROM events WHERE sender_id = ? AND type_name = 'user'"
            " ORDER BY id", [sender])]
        assert list(dict.fromkeys(texts)) == script  # every turn kept, in order (one A stored, then died
        # before it answered, is stored again by B: the cart still changed once)
