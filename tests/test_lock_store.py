"""bot.lock_store: a Redis lock store two Rasa servers can share, on a throwaway redis-server (slow).

Two store objects with their own connections stand for two Rasa servers; threads make them take
and give back tickets of one conversation at the same moment, as replicas behind a load balancer do.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import pytest
import redis
from rasa.core.lock_store import LockStore, RedisLockStore
from rasa.utils.endpoints import EndpointConfig

from bot.lock_store import AtomicRedisLockStore
from bot.servers import HOST

pytestmark = pytest.mark.slow


@pytest.fixture
def servers(redis_server: redis.Redis) -> list[AtomicRedisLockStore]:
    """Two lock stores on the same Redis, as two Rasa servers' endpoints.yml would make them."""
    redis_server.flushdb()
    port = redis_server.connection_pool.connection_kwargs["port"]
    config = EndpointConfig(url=HOST, type="bot.lock_store.AtomicRedisLockStore", port=port, db=0,
                            key_prefix="shopbot")
    return [LockStore.create(config), LockStore.create(config)]


def at_once(calls: list[Callable[[], object]]) -> list[object]:
    """Run the calls on as many threads, released together."""
    start = threading.Barrier(len(calls))

    def run(call: Callable[[], object]) -> object:
        start.wait()
        return call()

    with ThreadPoolExecutor(len(calls)) as pool:
        return list(pool.map(run, calls))


def test_endpoints_yml_makes_our_store_with_its_settings(servers: list[AtomicRedisLockStore],
                                                         redis_server: redis.Redis) -> None:
    store = servers[0]
    assert isinstance(store, AtomicRedisLockStore) and isinstance(store, RedisLockStore)
    assert store.key_prefix == "shopbot:lock:"
    assert store.red.connection_pool.connection_kwargs["port"] == redis_server.connection_pool.connection_kwargs["port"]


def test_tickets_taken_at_once_by_two_servers_are_all_different(servers: list[AtomicRedisLockStore]) -> None:
    def take(store: AtomicRedisLockStore) -> list[int]:
        return [store.issue_ticket("ann") for _ in range(40)]

    taken = [t for tickets in at_once([lambda s=s: take(s) for s in servers for _ in range(4)]) for t in tickets]
    assert sorted(taken) == list(range(320))                     # 8 threads x 40: no number twice, none skipped
    lock = servers[1].get_lock("ann")
    assert [t.number for t in lock.tickets] == list(range(320))  # every ticket is in the stored lock


def test_a_ticket_taken_while_another_server_gives_its_last_one_back_is_kept(
        servers: list[AtomicRedisLockStore]) -> None:
    # Rasa's store: A reads "nobody else waiting", B stores its ticket, A deletes the lock with it.
    a, b = servers
    for _ in range(150):
        mine = a.issue_ticket("bob")
        _, theirs = at_once([lambda: a.cleanup("bob", mine), lambda: b.issue_ticket("bob")])
        lock = b.get_lock("bob")
        assert lock is not None and [t.number for t in lock.tickets] == [theirs]
        b.cleanup("bob", theirs)
        assert b.get_lock("bob") is None                           # the last one out deletes the lock


def test_a_turn_waits_while_another_servers_turn_holds_the_lock(servers: list[AtomicRedisLockStore]) -> None:
    a, b = servers
    order: list[str] = []

    async def turn(store: AtomicRedisLockStore, name: str, hold: float) -> None:
        async with store.lock("cat"):
            order.append(f"{name} in")
            await asyncio.sleep(hold)
            order.append(f"{name} out")

    async def both() -> None:
        first = asyncio.create_task(turn(a, "a", 0.3))
        await asyncio.sleep(0.05)                                  # b asks while a holds the lock
        await turn(b, "b", 0)
        await first

    asyncio.run(both())
    assert order == ["a in", "a out", "b in", "b out"]
    assert a.get_lock("cat") is None
