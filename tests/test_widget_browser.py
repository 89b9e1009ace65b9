"""The chat widget in a real browser: Debian's chromium, driven by playwright, on the demo shop page.

Each slow browser test starts the real stack (action server, `rasa run` with the socket.io
channel, the page server of bot/webpage.py) on free local ports, then uses the page as a shopper
would: keyboard, buttons, a reload. Cards are checked against the SQLite catalog. Screenshots
(desktop and phone width) are saved in var/artifacts/. The page server alone is tested fast, and so
is the widget's drawing of the actions' cards, with a stand-in for the socket.io client.
"""

from __future__ import annotations

import json
import re
import shutil
import sqlite3
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from actions.listing import card
from bot.servers import HOST, Assistant, free_port
from bot.webpage import WEB_DIR, PageServer
from recommender import PRESETS, Catalog, config
from recommender.catalog.importer import import_catalog
from recommender import format_price

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
# Headless and quiet: without the background-networking flags chromium keeps dialling Google.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
ARTIFACTS = config.REPO_ROOT / "var" / "artifacts"
REPLY_MS = 120_000  # the first search loads the encoder and the embeddings
PROBE_TITLE = "<img src=x onerror=alert(1)>"
# Stands in for vendor/socket.io.min.js: connects at once (or, when HOLD, once the page calls
# window.stubConnect()), confirms a session, and answers each message with the bot_uttered events REPLIES
# holds for that text (both defined before it).
STUB_CLIENT = """
window.io = function () {
  const handlers = {};
  const later = (event, data) => setTimeout(() => handlers[event](data));
  const socket = {
    connected: !HOLD, active: true, connect() {},
    on(event, handler) { handlers[event] = handler; },
    emit(event, data) {
      if (event === "session_request") later("session_confirm", { session_id: "web-stub" });
      if (event === "user_uttered") (REPLIES[data.message] || []).forEach((reply) => later("bot_uttered", reply));
    },
  };
  window.stubConnect = () => { socket.connected = true; later("connect"); };
  if (!HOLD) later("connect");
  return socket;
};
"""


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.fail("Debian's chromium is not installed: run scripts/install-debian.sh chromium (make test does)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@contextmanager
def demo_shop(model: Path, log_dir: Path, **env: str) -> Iterator[PageServer]:
    """The demo page and the assistant behind it (servers started with ``env`` set), all on 127.0.0.1."""
    rasa_port = free_port()
    with pytest.MonkeyPatch.context() as patch:
        for name, value in env.items():
            patch.setenv(name, value)
        with PageServer(rasa_url=f"http://{HOST}:{rasa_port}") as page, \
                Assistant(model, rasa_port=rasa_port, cors=(page.origin,), log_dir=log_dir):
            yield page


def open_chat(browser: Browser, url: str, dialogs: list[str]) -> Page:
    """A new desktop-sized page at ``url`` with the chat opened by keyboard; dialogs are recorded."""
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    page.goto(url)
    page.get_by_role("button", name=re.compile("Chat with our assistant")).focus()
    page.keyboard.press("Enter")
    expect(page.get_by_label("Your message")).to_be_focused()
    return page


def stubbed_chat(browser: Browser, url: str, replies: dict[str, list[dict]], hold: bool = False) -> Page:
    """A new desktop-sized page at ``url`` whose socket.io client is ``STUB_CLIENT`` answering with
    ``replies`` (connecting only when the page calls ``stubConnect()`` if ``hold``), the chat opened."""
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    body = f"const REPLIES = {json.dumps(replies)}; const HOLD = {json.dumps(hold)};{STUB_CLIENT}"
    page.route("**/vendor/socket.io.min.js", lambda route: route.fulfill(content_type="text/javascript", body=body))
    page.goto(url)
    page.get_by_role("button", name="Chat with our assistant").click()
    return page


def say(page: Page, text: str, field: str = "Your message") -> None:
    """Type ``text`` into the chat (its input labelled ``field``) and send it with Enter; it shows as
    the shopper's message."""
    page.get_by_label(field).fill(text)
    page.keyboard.press("Enter")
    expect(page.locator(".shopbot-from-user").last).to_have_text(text)


def test_the_page_server_serves_the_widget_files_only_under_a_content_security_policy() -> None:
    with PageServer(rasa_url="http://127.0.0.1:5005") as site:
        with urllib.request.urlopen(site.url) as response:
            page = response.read().decode()
            csp = response.headers["Content-Security-Policy"]
        assert 'data-server="http://127.0.0.1:5005"' in page
        assert "script-src 'self'" in csp and "connect-src 'self' http://127.0.0.1:5005;" in csp
        with urllib.request.urlopen(site.url + "vendor/socket.io.min.js") as response:
            assert response.read() == (WEB_DIR / "vendor" / "socket.io.min.js").read_bytes()
        for path in ("vendor/", "../webpage.py", "%2e%2e/webpage.py", "missing.js"):
            with pytest.raises(urllib.error.HTTPError) as error:
                urllib.request.urlopen(site.url + path)
            assert error.value.code == 404, path


def test_cards_show_the_catalogs_currency_and_facets_as_text(browser: Browser, tmp_path: Path) -> None:
    products = tmp_path / "shop.csv"
    products.write_text("id,title,brand,category,price,rating,colour\n"
                        f'h1,Wireless Headphones,<b>Probe</b>,Audio > Headphones,349,4.46,"{PROBE_TITLE}"\n'
                        "h2,Buds FE,Plainly,Audio > Headphones,79.90,,Black\n")
    import_catalog(products, tmp_path / "catalog.db", mapping=PRESETS["default"].with_facets({"colour": "colour"}),
                   currency="EUR", progress=False)
    with Catalog.open(tmp_path / "catalog.db") as catalog:               # the cards the actions send
        cards = [card(p, ["as asked"], i, catalog.currency()) for i, p in
                 enumerate(catalog.get_products(["h1", "h2"]), start=1)]
    line = {**cards[0], "quantity": 2, "line_total": 698.0}
    replies = {"headphones": [{"text": "Here's what I found:"}, {"listing": "search", "products": cards}],
               "my cart": [{"text": "Your cart:"}, {"cart": {"lines": [line], "count": 2, "total": 698.0}}]}
    dialogs: list[str] = []
    with PageServer(rasa_url=f"http://{HOST}:9") as site:
        page = stubbed_chat(browser, site.url, replies)
        page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
        expect(page.locator(".shopbot-from-bot").first).to_have_text(
            "Hi! Tell me what you\u2019re looking for: a kind of product, a brand, a budget, or all three.")
        expect(page.get_by_label("Your message")).to_have_attribute("placeholder", "What are you looking for?")

        say(page, "headphones")
        shown = page.locator(".shopbot-card")
        expect(shown).to_have_count(2)
        assert [c["price_text"] for c in cards] == ["\u20ac349", "\u20ac79.90"]
        for sent, drawn in zip(cards, shown.all()):
            expect(drawn.locator(".shopbot-card-price")).to_have_text(sent["price_text"])
            expect(drawn.locator(".shopbot-facet")).to_have_text([f["value"] for f in sent["facets"]])
        expect(shown.first.locator(".shopbot-facet")).to_have_text([PROBE_TITLE])
        expect(shown.first.locator(".shopbot-card-facts")).to_have_text(
            "<b>Probe</b> \u00b7 Headphones \u00b7 \u2605 4.5")

        say(page, "my cart")
        expect(page.locator(".shopbot-cart-lines li")).to_have_text("2 \u00d7 Wireless Headphones \u2014 \u20ac698")
        expect(page.locator(".shopbot-cart-total")).to_have_text("Total: \u20ac698")
        assert page.locator("#shopbot img, #shopbot b").count() == 0     # no element was made from the text
    assert dialogs == []


def test_the_shopper_switches_the_widget_to_chinese_and_its_text_is_drawn_in_chinese_glyphs(
        browser: Browser, tmp_path: Path) -> None:
    """The language switch: the widget's labels and lang at once, the assistant asked to reply in
    Chinese, the pick kept across a reload. Chinese text is drawn with real glyphs: two messages of
    as many different characters differ on a screenshot (without a CJK font both are rows of the
    same empty box)."""
    products = tmp_path / "shop.csv"
    products.write_text("id,title,brand,category,price\nz1,纯棉短袖T恤,真维斯,服饰 > T恤,59\n", encoding="utf-8")
    import_catalog(products, tmp_path / "catalog.db", currency="CNY", progress=False)
    with Catalog.open(tmp_path / "catalog.db") as catalog:
        cards = [card(p, ["符合“T恤”"], 1, "CNY", "zh") for p in catalog.get_products(["z1"])]
    switch = '/set_language{"language":"zh"}'                     # what the widget sends on the pick
    replies = {switch: [{"text": "好的，之后我会用中文回复。"}],
               "我想买T恤": [{"text": "为您找到以下商品："}, {"listing": "search", "products": cards}],
               "我想买短袖": [{"text": "为您找到以下商品："}]}
    with PageServer(rasa_url=f"http://{HOST}:9") as site:
        page = stubbed_chat(browser, site.url, replies)
        widget = page.locator("#shopbot")
        expect(widget).to_have_attribute("lang", "en")
        page.get_by_label("Language").select_option("zh")

        expect(widget).to_have_attribute("lang", "zh-Hans")
        expect(page.get_by_role("button", name="发送")).to_be_visible()
        expect(page.get_by_label("您的消息")).to_have_attribute("placeholder", "您想找什么？")
        expect(page.locator(".shopbot-from-user").last).to_have_text("中文")   # the pick, as the shopper's turn
        expect(page.locator(".shopbot-from-bot").last).to_have_text("好的，之后我会用中文回复。")  # the stub's answer
        say(page, "我想买T恤", "您的消息")
        drawn = page.locator(".shopbot-card")
        expect(drawn.locator(".shopbot-card-price")).to_have_text("¥59.00")
        expect(drawn.locator(".shopbot-card-reasons li")).to_have_text("符合“T恤”")
        expect(drawn.get_by_role("button", name="加入购物车")).to_be_visible()
        expect(page.locator(".shopbot-from-bot .shopbot-text").last).to_have_attribute("lang", "zh-Hans")
        say(page, "我想买短袖", "您的消息")

        bubbles = page.locator(".shopbot-from-user .shopbot-text")
        first, second = (bubbles.nth(i) for i in (1, 2))              # "我想买T恤" is one letter narrower
        page.evaluate("() => { const b = document.querySelectorAll('.shopbot-from-user .shopbot-text');"
                      " b[1].textContent = '我想买洗发水'; b[2].textContent = '我想买指甲油'; }")
        assert first.screenshot() != second.screenshot(), "Chinese is drawn as empty boxes: no CJK font (make browser)"
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=ARTIFACTS / "widget-chinese.png")

        page.reload()                                                 # the pick is kept with the chat
        expect(widget).to_have_attribute("lang", "zh-Hans")
        expect(page.get_by_label("语言")).to_have_value("zh")
        expect(page.get_by_role("button", name="关闭聊天")).to_be_visible()


def test_the_widgets_labels_follow_the_language_the_assistant_replies_in(browser: Browser) -> None:
    """A shopper who switches by writing: each reply names its language (bot/nlg.py), the widget's own
    labels follow it, and keep it on a reload; a language the widget has no labels for changes nothing."""
    replies = {"我想买洗发水": [{"text": "为您找到以下商品：", "language": "zh"}],
               "und jetzt?": [{"text": "Sorry, I can only reply in English, 中文.", "language": "de"}],
               "show me shampoo": [{"text": "Here is what I found:", "language": "en"}]}
    with PageServer(rasa_url=f"http://{HOST}:9") as site:
        page = stubbed_chat(browser, site.url, replies)
        widget = page.locator("#shopbot")
        say(page, "我想买洗发水")
        expect(widget).to_have_attribute("lang", "zh-Hans")
        expect(page.get_by_label("语言")).to_have_value("zh")
        say(page, "und jetzt?", "您的消息")
        expect(page.locator(".shopbot-from-bot").last).to_have_text("Sorry, I can only reply in English, 中文.")
        expect(widget).to_have_attribute("lang", "zh-Hans")
        page.reload()                                                 # still open, still Chinese
        expect(widget).to_have_attribute("lang", "zh-Hans")
        say(page, "show me shampoo", "您的消息")
        expect(widget).to_have_attribute("lang", "en")
        expect(page.get_by_role("button", name="Send")).to_be_visible()


def test_a_message_written_before_the_assistant_answers_waits_and_is_sent_once(browser: Browser) -> None:
    replies = {"hello": [{"text": "Hi there."}]}
    with PageServer(rasa_url=f"http://{HOST}:9") as site:
        page = stubbed_chat(browser, site.url, replies, hold=True)
        say(page, "hello")                                         # shown at once, not sent yet
        expect(page.get_by_role("status")).to_have_text(re.compile("Your message will be sent as soon as"))
        page.get_by_label("Your message").fill("and this?")        # one message waits at a time
        page.keyboard.press("Enter")
        expect(page.get_by_role("status")).to_have_text(re.compile("your message was not sent"))
        expect(page.locator(".shopbot-from-user")).to_have_text(["hello"])
        expect(page.get_by_label("Your message")).to_have_value("and this?")
        page.evaluate("stubConnect()")
        expect(page.locator(".shopbot-from-bot").last).to_have_text("Hi there.")
        expect(page.get_by_role("status")).to_be_hidden()
        page.reload()                                              # the waiting message was kept with the chat
        expect(page.locator(".shopbot-from-user")).to_have_text(["hello"])
        expect(page.locator(".shopbot-from-bot").last).to_have_text("Hi there.")


@pytest.mark.slow
def test_a_shopper_finds_cheap_shampoo_fills_the_cart_and_keeps_the_chat_after_a_reload(
        browser: Browser, trained_model: Path, tmp_path: Path) -> None:
    dialogs: list[str] = []
    with demo_shop(trained_model, tmp_path / "logs", SHOPBOT_STORE=str(tmp_path / "shop.db")) as site:
        page = open_chat(browser, site.url, dialogs)
        say(page, "shampoo under $10")
        expect(page.locator(".shopbot-typing")).to_be_visible()
        cards = page.locator(".shopbot-card")
        expect(cards.first).to_be_visible(timeout=REPLY_MS)
        expect(page.locator(".shopbot-typing")).to_be_hidden()

        with sqlite3.connect(f"file:{config.catalog_path()}?mode=ro", uri=True) as catalog:
            for drawn in cards.all():
                title, category, price = catalog.execute(
                    "SELECT title, category, price FROM products WHERE id = ?",
                    [drawn.get_attribute("data-product-id")]).fetchone()
                assert category == "Shampoos" and price <= 10, (title, category, price)
                assert drawn.locator(".shopbot-card-price").inner_text() == format_price(price)
                assert title.startswith(drawn.locator(".shopbot-card-title").inner_text().rstrip("…").rstrip())
                assert drawn.locator(".shopbot-card-reasons li").count() >= 1
                for name in ("Add to cart", "Similar", "Details"):
                    expect(drawn.get_by_role("button", name=name)).to_be_visible()
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=ARTIFACTS / "widget-desktop.png")

        first_title = cards.first.locator(".shopbot-card-title").inner_text()
        cards.first.get_by_role("button", name="Add to cart").click()
        expect(page.get_by_test_id("cart-count")).to_have_text("1", timeout=REPLY_MS)

        said = page.locator(".shopbot-from-user").all_inner_texts()
        shown = cards.count()
        page.reload()
        expect(page.locator(".shopbot-from-user")).to_have_text(said)
        expect(cards).to_have_count(shown)
        expect(page.get_by_test_id("cart-count")).to_have_text("1")

        summaries = page.locator(".shopbot-cart-summary")
        before = summaries.count()
        say(page, "what's in my cart?")                               # the same shopper on the server
        expect(summaries).to_have_count(before + 1, timeout=REPLY_MS)
        expect(summaries.last).to_contain_text(first_title[:40])

        page.set_viewport_size({"width": 375, "height": 740})
        page.screenshot(path=ARTIFACTS / "widget-phone.png")
        assert page.evaluate("document.documentElement.scrollWidth") <= 375
        assert page.locator(".shopbot-panel").bounding_box()["width"] <= 375

        shopper = page.locator("#shopbot").get_attribute("data-session")
        assert shopper and shopper.startswith("web-")
        say(page, "forget me")
        page.get_by_role("button", name="Yes, delete everything").click(timeout=REPLY_MS)
        expect(page.locator(".shopbot-from-bot").last).to_contain_text("Done. I deleted", timeout=REPLY_MS)
        expect(page.get_by_test_id("cart-count")).to_have_text("0")
        page.wait_for_function("Object.keys(localStorage).every((key) => !key.startsWith('shopbot:'))",
                               timeout=REPLY_MS)                      # the widget forgot the shopper too
        page.reload()
        expect(page.locator("#shopbot")).to_have_attribute(                # a new anonymous shopper
            "data-session", re.compile(rf"^(?!{re.escape(shopper)}$)web-.+"), timeout=REPLY_MS)
        expect(page.locator(".shopbot-from-user")).to_have_count(0)
    assert dialogs == []


@pytest.mark.slow
def test_catalog_text_is_shown_as_text_and_never_run(browser: Browser, trained_model: Path, tmp_path: Path) -> None:
    products = tmp_path / "probe.csv"
    products.write_text(
        "id,title,brand,category,price\n"
        f'probe-1,"{PROBE_TITLE}",<b>Probe</b>,Beauty > Hair Care > Shampoos,4.99\n'
        "probe-2,Gentle Daily Shampoo,Plainly,Beauty > Hair Care > Shampoos,6.50\n"
        "probe-3,Clarifying Shampoo,Plainly,Beauty > Hair Care > Shampoos,7.25\n")
    import_catalog(products, tmp_path / "catalog.db")
    dialogs: list[str] = []
    with demo_shop(trained_model, tmp_path / "logs", SHOPBOT_CATALOG=str(tmp_path / "catalog.db"),
                   SHOPBOT_CACHE=str(tmp_path / "cache"), SHOPBOT_STORE=str(tmp_path / "shop.db")) as site:
        page = open_chat(browser, site.url, dialogs)
        say(page, "show me shampoo")
        probe = page.locator(".shopbot-card", has=page.locator(".shopbot-card-title", has_text=PROBE_TITLE))
        expect(probe).to_be_visible(timeout=REPLY_MS)
        expect(probe.locator(".shopbot-card-title")).to_have_text(PROBE_TITLE)
        expect(probe.locator(".shopbot-card-facts")).to_contain_text("<b>Probe</b>")
        assert page.locator("#shopbot img, #shopbot b").count() == 0     # no element was made from the text
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=ARTIFACTS / "widget-xss-probe.png")
    assert dialogs == []
