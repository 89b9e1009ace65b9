"""A Redis lock store whose changes are atomic, so that several Rasa servers can share it safely.

Rasa 3.6's `RedisLockStore` changes a conversation's lock by GET, a change in Python, then SET. Two
servers taking a ticket for one conversation at the same moment can get the same number and run their
turns at once; a server deleting the lock after its turn ("nobody is waiting") can delete a ticket
another server took in between, whose turn then fails with a LockError. Here every change is one
Redis transaction: WATCH the key, read, change, MULTI, SET or DEL, EXEC, and again from the read if
another server changed the key in between. A turn waiting for the lock looks again every 50 ms
instead of every second.

endpoints.yml on every Rasa server (see docs/deployment.md):

    lock_store:
      type: bot.lock_store.AtomicRedisLockStore
      url: 127.0.0.1
      port: 6379
      db: 1
      key_prefix: shopbot
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from rasa.core.lock import TicketLock
from rasa.core.lock_store import LOCK_LIFETIME, LockError, RedisLockStore

if TYPE_CHECKING:
    from contextlib import AbstractAsyncContextManager

    import redis
    from rasa.utils.endpoints import EndpointConfig

POLL_SECONDS = 0.05  # how often a turn waiting for the conversation's lock looks again

T = TypeVar("T")


class AtomicRedisLockStore(RedisLockStore):
    """`RedisLockStore` whose ticket issuing and returning are Redis transactions.

    Takes the same settings as Rasa's (`host`/`url`, `port`, `db`, `password`, `key_prefix`, ...),
    as keyword arguments or, from endpoints.yml, as an `EndpointConfig`.
    """

    def __init__(self, endpoint_config: EndpointConfig | None = None, **kwargs: Any) -> None:
        if endpoint_config is not None:
            if endpoint_config.url:
                kwargs["host"] = endpoint_config.url
            kwargs = {**endpoint_config.kwargs, **kwargs}
        super().__init__(**kwargs)

    def _change(self, conversation_id: str, change: Callable[[TicketLock | None], tuple[TicketLock | None, T]]) -> T:
        """Apply ``change`` to the stored lock in one transaction, redone while others change it first.

        ``change`` gets the stored lock (None: there is none) and returns the lock to store (None:
        delete it) and a result; it may run more than once, each time on a fresh read.
        """
        key = self.key_prefix + conversation_id
        result: list[T] = []

        def apply(pipe: redis.client.Pipeline) -> None:
            stored = pipe.get(key)  # WATCHed: EXEC fails if another client changes the key from here
            lock, value = change(TicketLock.from_dict(json.loads(stored)) if stored else None)
            result[:] = [value]
            pipe.multi()
            if lock is not None:
                pipe.set(key, lock.dumps())
            elif stored is not None:
                pipe.delete(key)

        self.red.transaction(apply, key)
        return result[0]

    def issue_ticket(self, conversation_id: str, lock_lifetime: float = LOCK_LIFETIME) -> int:
        """Issue the next ticket of the conversation's lock (created if there is none)."""

        def issue(lock: TicketLock | None) -> tuple[TicketLock, int]:
            lock = lock or self.create_lock(conversation_id)
            return lock, lock.issue_ticket(lock_lifetime)

        try:
            return self._change(conversation_id, issue)
        except Exception as e:  # the processor expects a LockError, as from Rasa's stores
            raise LockError(f"Error while acquiring lock. Error:\n{e}") from e

    def update_lock(self, conversation_id: str) -> None:
        """Drop the lock's expired tickets."""

        def drop_expired(lock: TicketLock | None) -> tuple[TicketLock | None, None]:
            if lock is not None:
                lock.remove_expired_tickets()
            return lock, None

        self._change(conversation_id, drop_expired)

    def cleanup(self, conversation_id: str, ticket_number: int) -> None:
        """Give back a ticket, and delete the lock if no other ticket is waiting: one transaction."""

        def give_back(lock: TicketLock | None) -> tuple[TicketLock | None, None]:
            if lock is None:
                return None, None
            lock.remove_ticket_for(ticket_number)
            return (lock if lock.is_someone_waiting() else None), None

        self._change(conversation_id, give_back)

    def lock(self, conversation_id: str, lock_lifetime: float = LOCK_LIFETIME,
             wait_time_in_seconds: float = POLL_SECONDS) -> AbstractAsyncContextManager[TicketLock]:
        """Rasa's ticket lock, looking again every ``POLL_SECONDS`` while another turn holds it."""
        return super().lock(conversation_id, lock_lifetime, wait_time_in_seconds)
