"""Start, watch and stop the assistant's processes: the rasa-sdk action server and the Rasa server.

Both bind to 127.0.0.1, run with the environment every Rasa command needs (`rasa_env`), and are
stopped by PID. `Assistant` is the context manager the CLI's `serve` and the end-to-end tests use;
`Assistant.supervise` starts again a server that crashed, as `Restarts` allows.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import NoReturn

import yaml

from bot import identity, settings
from bot.credentials import write_active
from recommender import ShopbotError, config

logger = logging.getLogger(__name__)

HOST = "127.0.0.1"
RASA = str(Path(sys.executable).with_name("rasa"))

# Quiet, offline and private: no telemetry, no CUDA noise, no hub downloads.
RASA_ENV = {
    "RASA_TELEMETRY_ENABLED": "false",
    "SQLALCHEMY_SILENCE_UBER_WARNING": "1",
    "TF_CPP_MIN_LOG_LEVEL": "2",
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "HF_HUB_DISABLE_PROGRESS_BARS": "1",
    "TOKENIZERS_PARALLELISM": "false",
    # TensorFlow, keras, sanic-cors and rasa's pkg_resources print ~20 lines of third-party
    # deprecation warnings at every start; they say nothing to a shopper or an operator.
    "PYTHONWARNINGS": "ignore::DeprecationWarning,ignore::UserWarning",
}


class ServerError(ShopbotError):
    """A server process did not start or did not become ready."""


def rasa_env(**extra: str) -> dict[str, str]:
    """The current environment plus what every Rasa command needs."""
    return {**os.environ, **RASA_ENV, **extra}


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def cache_apart(folder: Path) -> Path:
    """Make `folder` a cache folder (for $SHOPBOT_CACHE) that links to the set-up's built files
    (catalog, embeddings, collaborative model) and keeps its own logs, secrets, shopper store and
    conversations: for servers that must write nothing under var/ (tests, drills). Returns `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    for entry in config.cache_dir().iterdir():
        if entry.name not in ("logs", "secrets") and not entry.name.startswith(("shop.db", "conversations.db")):
            (folder / entry.name).symlink_to(entry)
    return folder


def endpoints_for(action_port: int, directory: Path, tracker_db: Path | None = None,
                  lock_store: dict | None = None, tracker_store: dict | None = None,
                  action_url: str | None = None) -> Path:
    """Write a copy of endpoints.yml whose action endpoint is the action server on `action_port` (or
    `action_url`, e.g. a load balancer's), whose SQLite tracker store is the file `tracker_db` (default:
    `settings.tracker_path()`) or, given `tracker_store`, that tracker store (e.g. ``{"type":
    "bot.tracker_store.ForgettingSQLTrackerStore", "dialect": "postgresql", ...}``) and, given
    `lock_store` (e.g. ``{"type": "redis", "url": "127.0.0.1", "port": 6379}``), that lock store.

    The file is copied as composed YAML nodes, not loaded: a ``${VAR}`` value (the action endpoint's
    token header, a database password) stays a variable for Rasa to expand, and no secret is written,
    even in a process where Rasa's YAML loader (which expands them) is in place.
    """
    root = yaml.compose((config.REPO_ROOT / "endpoints.yml").read_text())
    _put(_child(root, "action_endpoint"), "url", action_url or f"http://{HOST}:{action_port}/webhook")
    if tracker_store:
        _put(root, "tracker_store", tracker_store)
    store = _child(root, "tracker_store")
    dialect = _child(store, "dialect")
    if dialect is not None and dialect.value == "sqlite":
        tracker_db = Path(tracker_db or settings.tracker_path()).resolve()
        tracker_db.parent.mkdir(parents=True, exist_ok=True)
        _put(store, "db", str(tracker_db))
    if lock_store:
        _put(root, "lock_store", lock_store)
    path = directory / "endpoints.yml"
    path.write_text(yaml.serialize(root))
    return path


def _child(mapping: yaml.Node | None, key: str) -> yaml.Node | None:
    """The value of `key` in a composed YAML mapping, or None (no such key, or not a mapping)."""
    if not isinstance(mapping, yaml.MappingNode):
        return None
    return next((value for k, value in mapping.value if k.value == key), None)


def _put(mapping: yaml.MappingNode, key: str, value: object) -> None:
    """Set `key` of a composed YAML mapping to the plain value `value` (a string, a dict, ...)."""
    node = yaml.compose(yaml.safe_dump(value))
    for i, (k, _) in enumerate(mapping.value):
        if k.value == key:
            mapping.value[i] = (k, node)
            return
    mapping.value.append((yaml.compose(yaml.safe_dump(key)), node))


def wait_until_ready(url: str, process: subprocess.Popen, timeout: float, log: Path) -> None:
    """Poll `url` until it answers 200; fail early if the process exits."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise ServerError(f"{_last_line(log) or f'exited with code {process.returncode}'} (log: {log})")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.5)
    raise ServerError(f"{url} was not ready after {timeout:.0f} s; see {log}")


def _last_line(log: Path) -> str:
    """The last non-empty line of a log file (where a server that stopped at start says why)."""
    lines = [line.strip() for line in log.read_text(errors="replace").splitlines() if line.strip()]
    return lines[-1] if lines else ""


def stop(process: subprocess.Popen, timeout: float = 15) -> None:
    """Stop a process group started by `_spawn`: SIGTERM, then SIGKILL if it lingers."""
    if process.poll() is not None:
        return
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    except ProcessLookupError:
        pass


def _local(host: str) -> str:
    """The address to reach a server bound to `host` from this machine."""
    return HOST if host in ("0.0.0.0", "::", "") else host


_recording = 0  # > 0 while a server process is spawned and recorded (`_whole`): a stop waits for its end
_stop_waiting = False


def request_stop() -> None:
    """Stop (KeyboardInterrupt, as Ctrl-C) now or, while a server process is spawned and recorded, as soon as
    it is: a stop never leaves a server running that no one stops. For signal handlers (`shopbot serve`)."""
    global _stop_waiting
    if _recording:
        _stop_waiting = True
    else:
        raise KeyboardInterrupt


@contextmanager
def _whole() -> Iterator[None]:
    """A block that spawns a server process and records it: a stop requested within it comes at its end."""
    global _recording, _stop_waiting
    _recording += 1
    try:
        yield
    finally:
        _recording -= 1
    if _stop_waiting and not _recording:
        _stop_waiting = False
        raise KeyboardInterrupt


def _spawn(args: list[str], log: Path, launcher: Sequence[str] = (), **env: str) -> subprocess.Popen:
    """Start `args` (after the `launcher` command, if any) in its own process group with stdout and stderr
    going to `log`."""
    with log.open("ab") as out:
        return subprocess.Popen([*launcher, *args], cwd=config.REPO_ROOT, env=rasa_env(**env), stdout=out,
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=True)


@dataclass
class Starting:
    """A server process just spawned, and how to tell it is ready: `ready()` waits for it."""

    process: subprocess.Popen
    url: str
    timeout: float
    log: Path

    def ready(self) -> subprocess.Popen:
        """Wait until `url` answers; a server that fails to get ready, or whose wait is interrupted
        (Ctrl-C, SIGTERM), is stopped, so that no caller is left with an orphan."""
        try:
            wait_until_ready(self.url, self.process, self.timeout, self.log)
        except BaseException:
            stop(self.process)
            raise
        return self.process


def spawn_action_server(port: int, log: Path, host: str = HOST, timeout: float = 300, debug: bool = False,
                        env: dict[str, str] | None = None, launcher: Sequence[str] = ()) -> Starting:
    """Spawn the action server (`bot.action_server`: loads the shop's data, then serves `actions` to
    callers holding $SHOPBOT_ACTION_TOKEN, which the Rasa server gets from `spawn_rasa_server`); `env`:
    more of its environment (``{"SHOPBOT_STORE": url}``); `launcher`: a command it runs under
    (``("ip", "netns", "exec", "web1")``: on a network of its own), which must exec it, not fork."""
    process = _spawn([sys.executable, "-m", "bot.action_server", "--port", str(port), *(["--debug"] if debug else [])],
                     log, launcher, SANIC_HOST=host, SHOPBOT_ACTION_TOKEN=settings.secret("SHOPBOT_ACTION_TOKEN"),
                     **(env or {}))
    return Starting(process, f"http://{_local(host)}:{port}/health", timeout, log)


def start_action_server(port: int, log: Path, host: str = HOST,
                        timeout: float = 300, debug: bool = False) -> subprocess.Popen:
    """`spawn_action_server`, ready."""
    return spawn_action_server(port, log, host, timeout, debug).ready()


def spawn_rasa_server(model: Path, port: int, endpoints: Path, log: Path, host: str = HOST,
                      timeout: float = 600, cors: tuple[str, ...] = (),
                      enable_api: bool = False, debug: bool = False, launcher: Sequence[str] = ()) -> Starting:
    """Spawn `rasa run` with the channels of credentials.yml on `host`:`port` (under `launcher`, as
    `spawn_action_server`).

    `timeout`: the server is ready ~25 s after its start on 2 free cores, over a minute on a loaded machine.
    `cors` lists the web origins (e.g. the chat widget's page) allowed to call it from a browser.
    Rasa's HTTP API (trackers, events, model) is off unless `enable_api`, and then every call needs
    `?token=$SHOPBOT_API_TOKEN` (`bot.rasa_server` hands it to Rasa: never on a command line, where
    `ps` shows it). `debug` is Rasa's `--debug`: its log then has message texts and senders.
    The server gets every secret of `settings.SECRETS` in its environment: the channels' and the API's
    tokens, and the action server's token that endpoints.yml sends.
    """
    secrets = identity.environment()
    credentials = write_active(endpoints.parent, environ={**os.environ, **secrets})
    api = ["--enable-api"] if enable_api else []
    process = _spawn([sys.executable, "-m", "bot.rasa_server", "run", "--model", str(model),
                      "--interface", host, "--port", str(port),
                      "--endpoints", str(endpoints), "--credentials", str(credentials), *api,
                      *(["--cors", *cors] if cors else []), *(["--debug"] if debug else [])],
                     log, launcher, **secrets)
    return Starting(process, f"http://{_local(host)}:{port}/webhooks/rest/", timeout, log)


def start_rasa_server(model: Path, port: int, endpoints: Path, log: Path, host: str = HOST,
                      timeout: float = 600, cors: tuple[str, ...] = (),
                      enable_api: bool = False, debug: bool = False) -> subprocess.Popen:
    """`spawn_rasa_server`, ready."""
    return spawn_rasa_server(model, port, endpoints, log, host, timeout, cors, enable_api, debug).ready()


@dataclass
class Restarts:
    """When a server that stopped on its own is started again: after 1, 2, 4 ... s (at most
    `max_delay`), at most `limit` times in any `window` s. One that stops more often has a cause a
    restart does not cure (a broken file, no memory): it is not started again.

    Example:
        restarts = Restarts(limit=3)
        restarts.next_delay()   # 1.0, then 2.0, 4.0, then None (given up) within 10 minutes
    """

    limit: int = 5  # restarts within `window`
    window: float = 600.0  # seconds; a restart older than this no longer counts, nor lengthens the wait
    first_delay: float = 1.0  # short: meanwhile shoppers get the channel's apology
    max_delay: float = 30.0
    clock: Callable[[], float] = time.monotonic
    _times: deque[float] = field(default_factory=deque, repr=False)

    def next_delay(self) -> float | None:
        """Seconds to wait before the next restart, which this counts; None once `limit` restarts
        happened in the last `window` seconds."""
        now = self.clock()
        while self._times and self._times[0] <= now - self.window:
            self._times.popleft()
        if len(self._times) >= self.limit:
            return None
        delay = min(self.first_delay * 2 ** len(self._times), self.max_delay)
        self._times.append(now)
        return delay


def supervise(processes: list[subprocess.Popen], start: Callable[[int], subprocess.Popen],
              names: Sequence[str], restarts: Callable[[], Restarts] = Restarts, poll: float = 1.0) -> NoReturn:
    """Watch `processes` until interrupted (KeyboardInterrupt); one that exits is started again as
    ``processes[i] = start(i)`` after its own `Restarts`'s delay. Raises ServerError naming `names[i]`
    when one stops more often than its `Restarts` allows. Logs say which server and its exit code only."""
    policies = [restarts() for _ in processes]
    while True:
        time.sleep(poll)
        for i, process in enumerate(processes):
            if process.poll() is None:
                continue
            policy, code = policies[i], process.returncode
            delay = policy.next_delay()
            if delay is None:
                raise ServerError(f"the {names[i]} keeps stopping (exit code {code}; {policy.limit} restarts within "
                                  f"{policy.window / 60:.0f} min): not starting it again")
            logger.warning("the %s stopped (exit code %s); starting it again in %.0f s", names[i], code, delay)
            time.sleep(delay)
            try:
                processes[i] = start(i)
            except ServerError as e:  # the exited process stays in place: the next round counts a restart more
                logger.warning("the %s did not start again: %s", names[i], e)
                continue
            logger.warning("the %s is running again", names[i])


SERVERS = (("action server", "actions.log"), ("Rasa server", "rasa.log"))  # Assistant.processes, in order


@dataclass
class Assistant(AbstractContextManager):
    """The action server and the Rasa server, started together on free local ports.

    Example:
        with Assistant(model=Path("models")) as bot:
            bot.send("me", "show me shampoo under $10")
            bot.supervise()    # until Ctrl-C, starting again a server that crashed
    """

    model: Path
    host: str = HOST
    rasa_port: int = 0
    action_port: int = 0
    log_dir: Path | None = None
    cors: tuple[str, ...] = ()  # browser origins allowed to call the Rasa server (the widget's page)
    tracker_db: Path | None = None  # the conversations' SQLite file; default settings.tracker_path()
    enable_api: bool = False  # Rasa's HTTP API, behind $SHOPBOT_API_TOKEN
    debug: bool = False  # both servers log at DEBUG, message texts and senders included
    processes: list[subprocess.Popen] = field(default_factory=list)  # as SERVERS: action server, Rasa server

    def __enter__(self) -> Assistant:
        self.rasa_port = self.rasa_port or free_port()
        self.action_port = self.action_port or free_port()
        self.log_dir = Path(self.log_dir or tempfile.mkdtemp(prefix="shopbot-"))
        self.log_dir.mkdir(parents=True, exist_ok=True)
        try:  # both load at once (~25 s each on 2 free cores): the wait is the longer one
            starting = []
            for i in range(len(SERVERS)):
                with _whole():
                    starting.append(self._spawn(i))
                    self.processes.append(starting[-1].process)
            for server in starting:
                server.ready()
        except BaseException:
            self.__exit__(None, None, None)
            raise
        logger.info("assistant ready: REST on %s, actions on %s, logs in %s",
                    self.rest_url, self.action_port, self.log_dir)
        return self

    def __exit__(self, *exc: object) -> None:
        for process in reversed(self.processes):
            stop(process)
        self.processes.clear()

    def _spawn(self, i: int) -> Starting:
        """Spawn server `i` of SERVERS: 0 the action server, 1 the Rasa server (calling it)."""
        log = self.log_dir / SERVERS[i][1]
        if i == 0:
            return spawn_action_server(self.action_port, log, debug=self.debug)
        endpoints = endpoints_for(self.action_port, self.log_dir, self.tracker_db)
        return spawn_rasa_server(self.model, self.rasa_port, endpoints, log, self.host, cors=self.cors,
                                 enable_api=self.enable_api, debug=self.debug)

    def _start(self, i: int) -> subprocess.Popen:
        """Start server `i` of SERVERS in place of the one that stopped and wait until it is ready (a restart)."""
        with _whole():
            starting = self._spawn(i)
            self.processes[i] = starting.process
        return starting.ready()

    def supervise(self, restarts: Callable[[], Restarts] = Restarts, poll: float = 1.0) -> NoReturn:
        """Run until interrupted (Ctrl-C), starting again a server that stopped (a crash, `kill -9`)
        as `restarts` allows; raise ServerError, naming the server and its log, when one keeps stopping."""
        supervise(self.processes, self._start, [f"{name} (log: {self.log_dir / log})" for name, log in SERVERS],
                  restarts, poll)

    @property
    def url(self) -> str:
        """The Rasa server's base URL: the socket.io channel's address."""
        return f"http://{_local(self.host)}:{self.rasa_port}"

    @property
    def rest_url(self) -> str:
        return f"{self.url}/webhooks/rest/webhook"

    def send(self, sender: str, text: str, timeout: float = 180) -> list[dict]:
        """Post one message to the REST channel and return the bot's replies."""
        return post_message(self.rest_url, sender, text, timeout=timeout)


def post_message(url: str, sender: str, text: str, token: str | None = None, timeout: float = 180,
                 message_id: str | None = None) -> list[dict]:
    """Post one message to a REST webhook as an integrator (`token`: default $SHOPBOT_REST_TOKEN)
    and return the bot's replies. `message_id`: the client's id of the message, the same when it is
    sent again (a retry), so that it changes the cart once."""
    body = {"sender": sender, "message": text, **({"message_id": message_id} if message_id else {})}
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json",
                 "Authorization": f"Bearer {token or settings.secret('SHOPBOT_REST_TOKEN')}"})
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return json.loads(response.read())
