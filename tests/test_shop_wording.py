"""Greeting, help and the out-of-scope reply are worded from the catalog and the shop settings.

The three actions run for real (rasa_sdk Tracker and CollectingDispatcher) on two real catalog
files: the shipped demo catalog (Beauty, no shop settings) and a small electronics shop priced in
euros, imported with a shop name and what it sells. The example request a greeting gives is checked
against the catalog file: it names a real brand and category and finds products under its price.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator

import pytest
import yaml
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions import services
from actions.shop import ActionGreet, ActionHelp, ActionOutOfScope, ShopWords, _round_up, as_typed
from recommender import Catalog, config, import_catalog

DOMAIN = yaml.safe_load((config.REPO_ROOT / "domain.yml").read_text())
ACTIONS = {"greet": ActionGreet(), "help": ActionHelp(), "out_of_scope": ActionOutOfScope()}
ELECTRONICS_CSV = """\
id,title,brand,category,price
e1,Galaxy A15 Smartphone 128 GB,Samsung,Electronics > Phones > Smartphones,189.00
e2,Galaxy S24 Smartphone 256 GB,Samsung,Electronics > Phones > Smartphones,799.99
e3,Redmi Note 13 Smartphone,Xiaomi,Electronics > Phones > Smartphones,229.90
e4,Crystal UHD 55 inch TV,Samsung,Electronics > TV & Video > Televisions,449.00
e5,OLED 48 inch TV,LG,Electronics > TV & Video > Televisions,899.00
e6,WH-1000XM5 Wireless Headphones,Sony,Electronics > Audio > Headphones,349.00
e7,Galaxy Buds FE,Samsung,Electronics > Audio > Headphones,79.90
e8,Soundcore Life Q30 Headphones,Anker,Electronics > Audio > Headphones,69.99
"""
# Words of the shipped demo catalog's domain that no other shop's replies may contain.
BEAUTY_WORDS = re.compile(r"\$|\b(beauty|makeup|skin|hair|nails?|shampoos?|mascara|lipstick|fragrance|moisturi\w*"
                          r"|opi|maybelline|neutrogena)\b", re.IGNORECASE)


@pytest.fixture(scope="module")
def beauty() -> Iterator[Catalog]:
    """The shipped demo catalog file, read-only."""
    with Catalog.open(config.catalog_path()) as catalog:
        yield catalog


@pytest.fixture(scope="module")
def electronics_file(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[..., Catalog]]:
    """Opens the electronics shop imported with these shop settings (closed at the end)."""
    folder, opened = tmp_path_factory.mktemp("electronics"), []
    (folder / "products.csv").write_text(ELECTRONICS_CSV)

    def build(**settings: str) -> Catalog:
        db = folder / f"catalog-{len(opened)}.db"
        import_catalog(folder / "products.csv", db, currency="EUR", progress=False, **settings)
        opened.append(Catalog.open(db))
        return opened[-1]

    yield build
    for catalog in opened:
        catalog.close()


@pytest.fixture(scope="module")
def electronics(electronics_file) -> Catalog:
    return electronics_file(shop_name="Voltstore", sells="phones, TVs and headphones")


def say(catalog: Catalog, intent: str, monkeypatch: pytest.MonkeyPatch, language: str | None = None) -> str:
    """The text the action answering ``intent`` sends, with ``catalog`` as the shop's catalog, in a conversation
    in ``language``."""
    monkeypatch.setattr(services, "catalog", lambda: catalog)
    latest = {"text": "hi", "intent": {"name": intent, "confidence": 0.98}, "entities": []}
    dispatcher = CollectingDispatcher()
    tracker = Tracker("shopper", {"language": language}, latest, [], False, None, {}, "action_listen")
    events = ACTIONS[intent].run(dispatcher, tracker, DOMAIN)
    *notice, message = dispatcher.messages  # a language the replies cannot be in is said first
    assert [m["response"] for m in notice] == (["utter_language_unavailable"] if language == "es" else [])
    assert events == [] and message["response"] is None, message
    return message["text"]


def example_in(greeting: str) -> tuple[str, str, str]:
    """(brand, category, price) of the greeting's example request "<brand> <category> under <price>"."""
    found = re.search(r'like "(.+) under (\S+)"\.$', greeting)
    assert found, greeting
    request, price = found.groups()
    return *request.split(" ", 1), price


def test_the_beauty_greeting_gives_a_request_that_finds_products_in_the_catalog(beauty, monkeypatch):
    greeting = say(beauty, "greet", monkeypatch)
    assert greeting.startswith("Hi! I'm this shop's shopping assistant.")  # no shop name is set
    brand, category, price = example_in(greeting)
    assert brand in {b for b, _ in beauty.brands()}
    [named] = [c for c, _ in beauty.categories() if as_typed(c) == category]
    assert re.fullmatch(r"\$\d+(\.\d+)?", price), price
    assert beauty.filter_ids(category=named, brand=brand, price_max=float(price[1:]))


def test_the_beauty_help_and_out_of_scope_name_the_catalogs_own_words(beauty, monkeypatch):
    brand, category, price = example_in(say(beauty, "greet", monkeypatch))
    help_text = say(beauty, "help", monkeypatch)
    assert f'"{category} under {price}", then "cheaper", "only {brand}" or "no price limit"' in help_text
    assert '"add number 3 to my cart"' in help_text and '"delete my data"' in help_text
    main = [as_typed(c) for c in beauty.main_categories()]
    assert len(main) >= 3
    assert say(beauty, "out_of_scope", monkeypatch) == (
        f"Sorry, I can't help with that. This shop sells {', '.join(main[:-1])} and {main[-1]}."
        " What are you shopping for?")


def test_another_shop_is_worded_from_its_settings_and_catalog_with_no_beauty_word(electronics, monkeypatch):
    texts = {intent: say(electronics, intent, monkeypatch) for intent in ACTIONS}
    assert texts["greet"].startswith("Hi! I'm the shopping assistant of Voltstore.")
    brand, category, price = example_in(texts["greet"])
    assert (brand, category) == ("Samsung", "smartphones")                   # the largest brand of a category
    assert price == "€500" and len(electronics.filter_ids(category="Smartphones", brand="Samsung",
                                                          price_max=500)) == 1   # one of the two is under it
    assert texts["help"].startswith("I search the catalog of Voltstore")
    assert '"smartphones under €500", then "cheaper", "only Samsung"' in texts["help"]
    assert texts["out_of_scope"] == ("Sorry, I can't help with that. Voltstore sells phones, TVs and headphones."
                                     " What are you shopping for?")
    for intent, text in texts.items():
        assert not BEAUTY_WORDS.search(text), (intent, text)


def test_without_settings_the_reply_names_the_main_categories(electronics_file, monkeypatch):
    unnamed = electronics_file()
    assert say(unnamed, "greet", monkeypatch).startswith("Hi! I'm this shop's shopping assistant.")
    assert say(unnamed, "out_of_scope", monkeypatch) == (
        "Sorry, I can't help with that. This shop sells audio, phones and TV & video. What are you shopping for?")


def test_a_shop_the_catalog_tells_nothing_about_gets_plain_replies():
    words = ShopWords(name=None, sells=None, category=None, brand=None, price=None)
    assert words.greeting() == ("Hi! I'm this shop's shopping assistant. Tell me what you're looking for, "
                                "a kind of product, a brand, a budget, or all three.")
    assert words.help().splitlines()[1] == ('- a kind of product, a brand or a budget, then "cheaper" or'
                                            ' "no price limit"')
    assert words.out_of_scope() == ("Sorry, I can't help with that. I can only help you shop here."
                                    " What are you shopping for?")


@pytest.mark.parametrize("value, rounded", [(8.49, 9), (6.5, 7), (10.5, 20), (20, 20), (494.995, 500),
                                            (1299, 2000), (0.35, 0.4)])
def test_example_prices_round_up_to_one_significant_digit(value, rounded):
    assert _round_up(value) == pytest.approx(rounded)


@pytest.mark.parametrize("name, typed", [("Hair Care", "hair care"), ("TV & Video", "TV & video"),
                                         ("Eau de Parfum", "eau de parfum"), ("iPhone Cases", "iPhone cases")])
def test_catalog_names_are_written_as_shoppers_type_them(name, typed):
    assert as_typed(name) == typed


def test_an_unreadable_catalog_gets_an_apology(monkeypatch, caplog):
    def lost() -> Catalog:
        raise RuntimeError("the file is gone")

    monkeypatch.setattr(services, "catalog", lost)
    dispatcher = CollectingDispatcher()
    latest = {"text": "hi", "intent": {"name": "greet", "confidence": 0.98}, "entities": []}
    ActionGreet().run(dispatcher, Tracker("shopper", {}, latest, [], False, None, {}, "action_listen"), DOMAIN)
    assert [m["response"] for m in dispatcher.messages] == ["utter_action_failed"]
    assert "action_greet failed" in caplog.text


def test_the_replies_are_in_the_conversations_language(electronics, monkeypatch):
    assert say(electronics, "greet", monkeypatch, "zh") == (
        "您好！我是Voltstore的购物助手。请告诉我您想找什么，比如“€500.00以下的Samsung smartphones”。")
    assert say(electronics, "help", monkeypatch, "zh").splitlines()[:2] == [
        "我会帮您搜索Voltstore的商品目录，并记住您提过的要求。您可以说：",
        "- “€500.00以下的smartphones”，然后可以说“便宜一点”、“只要Samsung”或“不限价格”"]
    assert say(electronics, "out_of_scope", monkeypatch, "zh") == (
        "抱歉，这个我帮不上忙。Voltstore出售phones, TVs and headphones。请问您想买点什么？")
    assert say(electronics, "greet", monkeypatch, "es") == say(electronics, "greet", monkeypatch)  # no texts: English


def test_help_names_policy_questions_only_for_a_shop_with_a_policy_file(electronics_file, monkeypatch, tmp_path):
    catalog = electronics_file()
    monkeypatch.delenv("SHOPBOT_POLICIES", raising=False)             # a shop's own catalog: no policy file
    assert "how do I return something?" not in say(catalog, "help", monkeypatch)
    (tmp_path / "policies.md").write_text("## Returns\nThirty days.\n")
    monkeypatch.setenv("SHOPBOT_POLICIES", str(tmp_path / "policies.md"))
    assert '- "how long does delivery take?", "how do I return something?"' in say(catalog, "help", monkeypatch)
