"""A throwaway PostgreSQL server for the tests: Debian's initdb and pg_ctl on a temporary folder and a free
127.0.0.1 port (or on a host of tests/hosts.py, open to its network), a superuser password of its own (in
$PGPASSWORD for the clients, never in a URL), stopped by its PID at the end. Run as root (as in CI), the server
runs as Debian's ``postgres`` user, which PostgreSQL requires. ``scripts/install-debian.sh`` installs the
package (``make test`` does).
"""

from __future__ import annotations

import glob
import itertools
import os
import pwd
import re
import secrets
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg2

from bot.servers import free_port
from tests.hosts import HERE, Host

USER = "shopbot"  # the server's superuser, whom the tests connect as
STOP_WAIT_S = 30


def program(name: str) -> str:
    """The path of a PostgreSQL program: on PATH, or in Debian's /usr/lib/postgresql/<version>/bin."""
    found = shutil.which(name) or max(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"),
                                      key=lambda p: int(Path(p).parts[-3]), default=None)
    if found is None:
        raise RuntimeError(f"PostgreSQL's {name} is not installed: run scripts/install-debian.sh "
                           "/usr/lib/postgresql/*/bin/pg_ctl postgresql (make test does)")
    return found


class PostgresServer:
    """One running server; ``database()`` makes a fresh database and returns its URL."""

    def __init__(self, folder: Path, port: int, password: str, as_user: str | None = None,
                 host: Host = HERE) -> None:
        self.folder, self.port, self.password, self.as_user, self.host = folder, port, password, as_user, host
        self._names = itertools.count(1)

    def url(self, database: str = "postgres") -> str:
        """The database's URL, without the password (the clients read $PGPASSWORD)."""
        return f"postgresql://{USER}@{self.host.address}:{self.port}/{database}"

    def connect(self, database: str = "postgres") -> psycopg2.extensions.connection:
        conn = psycopg2.connect(self.url(database), password=self.password)
        conn.autocommit = True
        return conn

    def database(self) -> str:
        """A new empty database; its URL."""
        name = f"test_{next(self._names)}"
        conn = self.connect()  # not `with conn`: psycopg2 would wrap it in a transaction
        try:
            conn.cursor().execute(f"CREATE DATABASE {name}")  # the name is ours: test_<n>
        finally:
            conn.close()
        return self.url(name)

    def restart(self) -> None:
        """Stop the server (fast: every connection dropped) and start it again on the same port."""
        _run([program("pg_ctl"), "restart", "-D", str(self.folder / "data"), "-l", str(self.folder / "server.log"),
              "-m", "fast", "-w", "-t", "60"], self.as_user, self.host)  # the log file: else it writes to our pipe

    def clients(self) -> set[str]:
        """The addresses connections came from (logged on a host of tests/hosts.py only)."""
        log = (self.folder / "server.log").read_text(encoding="utf-8", errors="replace")
        return set(re.findall(r"connection received: host=([0-9.]+)", log))

    @property
    def pid(self) -> int | None:
        """The postmaster's PID, from its postmaster.pid (None once it has stopped)."""
        pid_file = self.folder / "data" / "postmaster.pid"
        return int(pid_file.read_text().split()[0]) if pid_file.exists() else None

    @classmethod
    @contextmanager
    def running(cls, host: Host = HERE) -> Iterator[PostgresServer]:
        """initdb, start, yield the server; stop it (pg_ctl, then its PID) and delete its folder. On ``host``'s
        address, open to its network (/24) with the password, when it is a host of tests/hosts.py."""
        initdb, pg_ctl = program("initdb"), program("pg_ctl")
        folder = Path(tempfile.mkdtemp(prefix="shopbot-postgres-"))
        as_user = _server_user(folder)
        port = 5432 if host.launcher else free_port()  # a host of its own has every port free
        server = cls(folder, port, secrets.token_urlsafe(24), as_user, host)
        password_file = folder / "password"
        password_file.write_text(server.password + "\n")
        os.chmod(password_file, 0o600)
        if as_user:
            shutil.chown(password_file, as_user)
        data, log = folder / "data", folder / "server.log"
        try:
            _run([initdb, "-D", str(data), "-U", USER, "--auth=scram-sha-256", f"--pwfile={password_file}",
                  "-E", "UTF8", "--locale=C.UTF-8", "--no-sync"], as_user)
            if host.launcher:
                with open(data / "pg_hba.conf", "a", encoding="utf-8") as rules:
                    rules.write(f"host all all {host.address.rsplit('.', 1)[0]}.0/24 scram-sha-256\n")
            options = (f"-p {server.port} -c listen_addresses={host.address} -k {folder} -c fsync=off "
                       "-c full_page_writes=off -c max_connections=100"
                       + (" -c log_connections=on" if host.launcher else ""))  # who connects: `clients`
            _run([pg_ctl, "start", "-D", str(data), "-l", str(log), "-w", "-t", "60", "-o", options], as_user, host)
            yield server
        except subprocess.CalledProcessError as e:
            raise RuntimeError(f"PostgreSQL did not start ({e.stderr.strip()}): "
                               f"{log.read_text() if log.exists() else ''}") from e
        finally:
            server._stop(pg_ctl, as_user)
            shutil.rmtree(folder, ignore_errors=True)

    def _stop(self, pg_ctl: str, as_user: str | None) -> None:
        pid = self.pid
        if pid is None:
            return
        subprocess.run([pg_ctl, "stop", "-D", str(self.folder / "data"), "-m", "fast", "-w",
                        "-t", str(STOP_WAIT_S)], user=as_user, capture_output=True, check=False)
        deadline = time.monotonic() + STOP_WAIT_S
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        if _alive(pid):  # pg_ctl could not stop it: by its PID, by force (its backends then exit)
            os.kill(pid, signal.SIGKILL)


def _server_user(folder: Path) -> str | None:
    """Root may not run PostgreSQL: the server then runs as Debian's postgres user, who owns its folder."""
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam("postgres")
    except KeyError:
        raise RuntimeError("Running as root, PostgreSQL needs Debian's postgres user; "
                           "install the postgresql package") from None
    shutil.chown(folder, "postgres")
    return "postgres"


def _run(command: list[str], as_user: str | None, host: Host = HERE) -> None:
    """``command`` as ``as_user``; on ``host``, entered as root, then as ``as_user`` (runuser)."""
    if host.launcher:
        command, as_user = [*host.launcher, *(["runuser", "-u", as_user, "--"] if as_user else []), *command], None
    subprocess.run(command, user=as_user, capture_output=True, text=True, check=True, start_new_session=True,
                   stdin=subprocess.DEVNULL)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True
