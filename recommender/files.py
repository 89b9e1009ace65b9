"""Files written whole or not at all: a temporary file beside the target, then ``os.replace``."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = ["replaced_whole"]


@contextmanager
def replaced_whole(path: Path) -> Iterator[Path]:
    """A temporary path to write in; when the block succeeds it is synced and moved over ``path``,
    otherwise deleted (``path`` is then left as it was). Parent folders are created.

    The temporary file is named, not made by ``mkstemp``, so it gets the usual umask permissions.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        yield tmp
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
