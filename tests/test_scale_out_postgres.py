"""Scale-out on real engines (issue 19): two Rasa servers and two action servers on one PostgreSQL server (the
tracker store and the shopper store, each its own database) with the Redis lock store, every server on a host
of its own.

The hosts are Linux network namespaces on one bridge (tests/hosts.py), each with its own address and only its
loopback besides, as machines on one network: nothing reaches another host on 127.0.0.1. PostgreSQL (a
throwaway server, tests/postgres_server.py) and redis-server run on one host, listening on its address;
each action server and each Rasa server (A and B) on another, bound to its host's address, each action server
with its own copy of the shop's files. The Rasa servers' action endpoint is a load balancer played by this
test (tests/cluster.py) on the bridge: it sends each request to the action server the test chose for the turn.
One conversation's turns go to every combination of Rasa server and action server in turn; a catalog update
is rolled out one action server at a time while shoppers talk; Rasa server A is killed mid-burst. What the
shopper sees is checked against the catalog file, what is stored against PostgreSQL itself, by SQL. Needs
root (as in CI) and iproute2.
"""

from __future__ import annotations

import itertools
import json
import secrets
import shutil
import sqlite3
import threading
import urllib.error
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner

from bot.channels import SORRY
from bot.cli import cli
from tests.cluster import Cluster, Placement, cluster_running, copy_of_setup, redis_running
from tests.hosts import network, unavailable
from tests.postgres_server import PostgresServer
from tests.stores import all_rows, sql
from tests.test_scale_out import catalog_db, facts, payload, wait_for  # noqa: F401 (catalog_db: a fixture)
from tests.test_scale_out import shown_products as cards

pytestmark = pytest.mark.slow

LOCK_LIFETIME_S = 15  # a conversation lock a killed replica held is given up after this long (Rasa: 60 s)
TURN_GAP_S = 1.5  # between a talking shopper's turns: under the guard's 30 messages a minute on each Rasa server
SERVERS = ("actions-1", "actions-2", "rasa-1", "rasa-2")  # the hosts, besides the database's ("db")


@dataclass
class Deployment:
    cluster: Cluster
    addresses: dict[str, str]  # each host's, by name
    postgres: PostgresServer


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory, trained_model: Path) -> Iterator[Deployment]:
    reason = unavailable()
    if reason:
        pytest.fail(f"the scale-out test runs each server on a host of its own, which cannot be made here: {reason}")
    folder = tmp_path_factory.mktemp("scale-out-postgres")
    (folder / "redis").mkdir()
    password = secrets.token_urlsafe(24)  # Redis's: a lock store other hosts reach asks one
    with network(["db", *SERVERS]) as net, PostgresServer.running(net.hosts["db"]) as postgres, \
            redis_running(folder / "redis", net.hosts["db"], password) as lock_store, \
            pytest.MonkeyPatch.context() as env:
        env.setenv("PGPASSWORD", postgres.password)  # this module's server's, for the servers and for `sql`
        env.setenv("SHOPBOT_REDIS_PASSWORD", password)
        env.setenv("TICKET_LOCK_LIFETIME", str(LOCK_LIFETIME_S))
        on = net.hosts
        placement = Placement(net.address, on["db"].address, [on["actions-1"], on["actions-2"]],
                              [on["rasa-1"], on["rasa-2"]])
        with cluster_running(trained_model, folder, postgres, lock_store.connection_pool.connection_kwargs["port"],
                             placement=placement) as cluster:
            yield Deployment(cluster, {name: host.address for name, host in on.items()}, postgres)


@pytest.fixture(scope="module")
def cluster(deployment: Deployment) -> Cluster:
    return deployment.cluster


def text(replies: list[dict]) -> str:
    return " ".join(r.get("text", "") for r in replies)


def rows_naming(url: str, sender: str) -> list[tuple[str, tuple]]:
    """Every row of every table of the database that names the sender (in any column, as part of a value:
    the store keeps the channel's namespaced id)."""
    return [(table, row) for table, rows in all_rows(url).items() for row in rows
            if any(isinstance(value, str) and sender in value for value in row)]


def test_one_conversation_through_every_pair_of_replicas_each_on_its_own_host_stays_consistent_in_postgresql(
        deployment: Deployment, catalog_db: sqlite3.Connection) -> None:
    cluster, addresses, sender = deployment.cluster, deployment.addresses, "pg-scale-alternating"
    assert {url.split("/")[2].split(":")[0] for url in [*cluster.rasa, *cluster.balancer.upstreams]} == {
        addresses[name] for name in SERVERS}  # each server reached on its host's address
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
    assert {addresses[name] for name in SERVERS} <= deployment.postgres.clients()  # each connected from its host


def update_prices(cluster: Cluster, catalog: Path, prices: Path) -> None:
    """`shopbot catalog update` on one host's copy of the catalog, as a shop rolls a price change out."""
    result = CliRunner().invoke(cli, ["catalog", "update", str(prices), "--db", str(catalog)],
                                env={"SHOPBOT_STORE": cluster.shop})  # the watches it may fire are the cluster's
    assert result.exit_code == 0, result.output


def test_catalog_updates_roll_out_one_action_server_at_a_time_while_shoppers_talk(
        cluster: Cluster, tmp_path: Path) -> None:
    """Each action server reads its own copy of the shop's files (as on a host of its own). A price change is
    written in place into one copy, then the other: each server quotes its own copy's price from its next
    message. Then a new build is rolled out as docs/deployment.md says, one action server at a time taken out of
    the balancer, stopped and started on the new folder, while two shoppers keep talking: no turn fails (turns
    are answered while each is down), and each keeps its list across the servers."""
    sender = "pg-rollout"

    def price(actions: int) -> float:  # the first product's price as action server `actions` tells it
        return payload(cluster.send(1, sender, "tell me about the first one", actions), "product")["price"]

    product = cards(cluster.send(1, sender, "show me shampoo", 0))[0]
    changed = round(product["price"] + 1.25, 2)
    (tmp_path / "prices.csv").write_text(f"id,price\n{product['id']},{changed}\n")
    update_prices(cluster, cluster.actions[0].cache / "catalog.db", tmp_path / "prices.csv")
    assert (price(0), price(1)) == (changed, product["price"])  # each host reads its own copy, at once
    update_prices(cluster, cluster.actions[1].cache / "catalog.db", tmp_path / "prices.csv")
    assert (price(0), price(1)) == (changed, changed)

    build = copy_of_setup(tmp_path / "build-2")  # the next build, from the build machine: another price
    newer = round(changed + 1, 2)
    (tmp_path / "prices.csv").write_text(f"id,price\n{product['id']},{newer}\n")
    update_prices(cluster, build / "catalog.db", tmp_path / "prices.csv")
    stop, failures, served = threading.Event(), [], []  # served: a shopper's pair of turns, answered

    def talk(shopper: str) -> None:  # turns to both Rasa servers, the balancer's turn for the action server
        servers = itertools.cycle([0, 1])
        while not stop.wait(TURN_GAP_S):
            try:
                shown = cards(cluster.send(next(servers), shopper, "show me shampoo"))
                stop.wait(TURN_GAP_S)
                said = cluster.send(next(servers), shopper, "tell me about the second one")
                if len(shown) < 2 or payload(said, "product")["id"] != shown[1]["id"]:
                    failures.append((shopper, shown, said))
                served.append(shopper)
            except Exception as e:  # noqa: BLE001 (every failed turn is reported at the end)
                failures.append((shopper, repr(e)))

    shoppers = [threading.Thread(target=talk, args=(f"pg-rollout-{n}",)) for n in range(2)]
    for thread in shoppers:
        thread.start()
    try:
        for n in range(len(cluster.actions)):
            cluster.take_out(n)
            answered = len(served)
            wait_for(lambda: len(served) >= answered + 2, timeout=120)  # answered with one action server alone
            cluster.bring_back(n, shutil.copytree(build, tmp_path / f"host-{n + 1}-build-2"))
    finally:
        stop.set()
        for thread in shoppers:
            thread.join(timeout=300)
    assert failures == [], failures[:3]
    assert (price(0), price(1)) == (newer, newer)


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
