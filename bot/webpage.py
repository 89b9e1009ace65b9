"""Serve the demo shop page and the chat widget (the files of bot/web/) over HTTP on 127.0.0.1.

Files only, no directory listings, and a Content-Security-Policy that lets the page run nothing but
its own scripts and talk to nothing but itself and the Rasa server. The demo page names that server:
the ``__SHOPBOT_SERVER__`` placeholder of index.html is replaced by its URL.

``POST /token`` plays the shop's own site: it gives each new visitor a signed token naming a new
anonymous shopper (`bot.identity`), which the widget keeps and connects with. A real shop would sign
the id of its logged-in customer instead.
"""

from __future__ import annotations

import html
import json
import logging
import threading
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from bot import identity, settings

logger = logging.getLogger(__name__)

HOST = "127.0.0.1"
WEB_DIR = Path(__file__).with_name("web")
SERVER_PLACEHOLDER = "__SHOPBOT_SERVER__"


def content_security_policy(rasa_url: str) -> str:
    """Own scripts, styles and images only; connections only to the page's own server (the token) and
    the Rasa server (the widget polls it)."""
    parts = urlsplit(rasa_url)
    return ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
            f"connect-src 'self' {parts.scheme}://{parts.netloc}; "
            "base-uri 'none'; form-action 'none'; frame-ancestors 'none'")


class _Handler(SimpleHTTPRequestHandler):
    """GET/HEAD of the files in bot/web/, with security headers; folders are 404; POST /token."""

    def __init__(self, *args: Any, rasa_url: str, jwt_key: str, **kwargs: Any) -> None:
        self.rasa_url, self.jwt_key = rasa_url, jwt_key  # first: the base class handles the request in __init__
        super().__init__(*args, directory=str(WEB_DIR), **kwargs)

    def do_POST(self) -> None:
        if urlsplit(self.path).path != "/token":
            self.send_error(404, "Not Found")
            return
        body = json.dumps({"token": identity.issue(self.jwt_key)}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        if urlsplit(self.path).path in ("/", "/index.html"):
            self._send_index(with_body=True)
        else:
            super().do_GET()

    def do_HEAD(self) -> None:
        if urlsplit(self.path).path in ("/", "/index.html"):
            self._send_index(with_body=False)
        else:
            super().do_HEAD()

    def _send_index(self, with_body: bool) -> None:
        page = (WEB_DIR / "index.html").read_text(encoding="utf-8")
        body = page.replace(SERVER_PLACEHOLDER, html.escape(self.rasa_url, quote=True)).encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if with_body:
            self.wfile.write(body)

    def list_directory(self, path: str) -> None:
        self.send_error(404, "Not Found")

    def end_headers(self) -> None:
        self.send_header("Content-Security-Policy", content_security_policy(self.rasa_url))
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Referrer-Policy", "no-referrer")
        self.send_header("Cache-Control", "no-cache")
        super().end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("%s %s", self.address_string(), format % args)


@dataclass
class PageServer(AbstractContextManager):
    """The demo page server, running in a background thread while the context is open.

    Example:
        with PageServer(rasa_url="http://127.0.0.1:5005", port=8000) as page:
            print(page.url)
    """

    rasa_url: str
    host: str = HOST
    port: int = 0  # 0: any free port
    # signs the visitors' tokens: the Rasa server's socket.io channel checks them with the same key
    jwt_key: str = field(default_factory=lambda: settings.secret("SHOPBOT_JWT_KEY"), repr=False)
    _httpd: ThreadingHTTPServer | None = field(default=None, repr=False)

    def __enter__(self) -> PageServer:
        rasa_url, jwt_key = self.rasa_url, self.jwt_key

        def handler(*args: Any) -> _Handler:
            return _Handler(*args, rasa_url=rasa_url, jwt_key=jwt_key)

        self._httpd = ThreadingHTTPServer((self.host, self.port), handler)
        self.port = self._httpd.server_address[1]
        threading.Thread(target=self._httpd.serve_forever, name="shopbot-page", daemon=True).start()
        logger.info("demo page on %s (chat server %s)", self.url, self.rasa_url)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/"

    @property
    def origin(self) -> str:
        """The page's web origin, which the Rasa server must allow (``--cors``)."""
        return f"http://{self.host}:{self.port}"
