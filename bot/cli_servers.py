"""``shopbot chat``, ``serve`` and ``web``: the commands that start the assistant's servers."""

from __future__ import annotations

import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click

from recommender import config


def _trained_model() -> Path:
    from bot import build

    model = build.model_path()
    if not model.exists():
        raise click.ClickException(f"No trained model at {model}. Run 'shopbot setup' first.")
    return model


@click.command("chat")
@click.option("--sender", default=None, metavar="ID",
              help="Shopper (sender) id: your cart, likes and orders are kept under it; a shipped shopper id "
                   "(data/products/amazon-beauty/user_sequence.txt) personalises from their history. "
                   "Default: a new random one.")
def chat(sender: str | None) -> None:
    """Chat with the assistant in this terminal; starts and stops the action server.

    Type /stop to end the chat.

    Examples:

        shopbot chat

        shopbot chat --sender A1YJEY40YUW4SE     # act as a shipped shopper with a purchase history
    """
    import tempfile
    import uuid

    from bot import identity, servers
    from bot.credentials import write_active

    model = _trained_model()
    log_dir = Path(tempfile.mkdtemp(prefix="shopbot-chat-"))
    action_port = servers.free_port()
    click.echo(f"Starting the action server (log: {log_dir / 'actions.log'}) ...", err=True)
    actions = servers.start_action_server(action_port, log_dir / "actions.log")
    try:
        endpoints = servers.endpoints_for(action_port, log_dir)
        args = [sys.executable, "-m", "bot.rasa_server", "shell", "--model", str(model), "--endpoints", str(endpoints),
                "--credentials", str(write_active(log_dir)),
                "--interface", servers.HOST, "--port", str(servers.free_port()),
                "--conversation-id", identity.sender_id(identity.SHOP, sender) if sender else uuid.uuid4().hex, "--quiet"]
        subprocess.run(args, env=servers.rasa_env(**identity.environment()), cwd=config.REPO_ROOT)
    finally:
        servers.stop(actions)
        click.echo("Action server stopped.", err=True)


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Interface of the Rasa server. Only change it behind a proxy you trust.")
@click.option("--port", type=int, default=5005, show_default=True, help="Rasa server port.")
@click.option("--action-port", type=int, default=5055, show_default=True,
              help="Action server port (always on 127.0.0.1).")
@click.option("--enable-api", is_flag=True,
              help="Also turn on Rasa's HTTP API (conversations, events), every call needing "
                   "?token=$SHOPBOT_API_TOKEN.")
@click.option("--debug", is_flag=True,
              help="Log at DEBUG level. The logs then hold what shoppers write and their ids: "
                   "for finding a bug, not for serving shoppers.")
def serve(host: str, port: int, action_port: int, enable_api: bool, debug: bool) -> None:
    """Run the assistant as an HTTP server: Rasa's REST channel plus the action server.

    Every REST call needs the header `Authorization: Bearer $SHOPBOT_REST_TOKEN` (unset, a token is
    generated once into var/secrets/SHOPBOT_REST_TOKEN). Stop it with Ctrl-C, or SIGTERM or SIGHUP
    (`kill <pid>`, systemd, a container runtime): both processes are stopped. A server that crashes
    is started again after 1, 2, 4 ... s; after 5 restarts within 10 minutes the command stops.

    Example (the message is a search on the shipped demo catalog):

        shopbot serve --port 5005

        curl -s localhost:5005/webhooks/rest/webhook -H "Authorization: Bearer $(cat var/secrets/SHOPBOT_REST_TOKEN)" \
          -d '{"sender": "me", "message": "shampoo under $10"}'
    """
    from bot.servers import Assistant

    with _stopped_by_signals(), Assistant(_trained_model(), host=host, rasa_port=port, action_port=action_port,
                   log_dir=config.cache_dir() / "logs", enable_api=enable_api, debug=debug) as bot:
        click.echo(f"REST channel: POST {bot.rest_url} with the bearer token $SHOPBOT_REST_TOKEN (unset: "
                   f"{config.cache_dir() / 'secrets' / 'SHOPBOT_REST_TOKEN'})"
                   f"{'; HTTP API on' if enable_api else ''}{'; DEBUG logs' if debug else ''}"
                   f"  (logs in {bot.log_dir}; Ctrl-C stops)")
        _run_until_stopped(bot)


STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


@contextmanager
def _stopped_by_signals() -> Iterator[None]:
    """Within the block, Ctrl-C, SIGTERM and SIGHUP stop the servers (KeyboardInterrupt, never while a
    server process is spawned and not yet recorded: `bot.servers.request_stop`), so that `kill <pid>` leaves
    no orphan; the first one only, so that the stop is not cut short. A stop while the servers start is as
    clean (exit code 0) as one once they run (`_run_until_stopped`)."""
    from bot.servers import request_stop

    def interrupt(signum: int, frame: Any) -> None:
        for number in STOP_SIGNALS:
            signal.signal(number, signal.SIG_IGN)
        request_stop()

    previous = {number: signal.signal(number, interrupt) for number in STOP_SIGNALS}
    try:
        yield
    except KeyboardInterrupt:  # before `_run_until_stopped`: the servers started are already stopped
        click.echo("Stopped while starting.", err=True)
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


def _run_until_stopped(bot: Any) -> None:
    """Run ``bot`` (a bot.servers.Assistant) until Ctrl-C (or SIGTERM, SIGHUP), starting again a server
    that crashed; one that keeps crashing ends the command with one ``Error: ...`` line (ServerError)."""
    try:
        bot.supervise()
    except KeyboardInterrupt:
        click.echo("Stopping.", err=True)


@click.command("web")
@click.option("--port", type=int, default=8000, show_default=True, help="Port of the demo shop page.")
@click.option("--rasa-port", type=int, default=5005, show_default=True,
              help="Rasa server port (its socket.io channel serves the widget).")
@click.option("--action-port", type=int, default=5055, show_default=True, help="Action server port.")
def web(port: int, rasa_port: int, action_port: int) -> None:
    """Serve a demo shop page with the chat widget, plus the assistant it talks to.

    Starts the action server, the Rasa server (its CORS allowing the page's origin) and the page
    server, all on 127.0.0.1, and prints the page's URL. Ctrl-C (or SIGTERM, SIGHUP) stops all three;
    a crashed assistant server is started again, as in `shopbot serve`.

    Example:

        shopbot web --port 8000        # then open http://127.0.0.1:8000/
    """
    from bot.servers import HOST, Assistant
    from bot.webpage import PageServer

    with _stopped_by_signals(), PageServer(rasa_url=f"http://{HOST}:{rasa_port}", port=port) as page, \
            Assistant(_trained_model(), rasa_port=rasa_port, action_port=action_port, cors=(page.origin,),
                      log_dir=config.cache_dir() / "logs") as bot:
        click.echo(f"Demo shop with the chat widget: {page.url}  (logs in {bot.log_dir}; Ctrl-C stops)")
        _run_until_stopped(bot)
