"""Variants: rows sharing a parent id are one product sold in several options (size, colour, volume), in
search one product, in its details every option with its stock; "add it" asks which option, with a
button each, and reads the answer ("medium", "the black one", "the second one"); an option out of stock
is never added; the cart, checkout and order hold the variant at its own price. The outdoor-shop
fixture (tests/fixtures/catalogs/variants_outdoor.csv) through the importer, the catalog, the actions
with real trackers and a real shopper store, and the dialogue policy that routes a typed answer."""

from __future__ import annotations

import json
import shutil
import sqlite3

import pytest
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from actions import services
from actions.variants import answer
from bot.variant_policy import VariantAnswerPolicy
from recommender import Catalog, config, import_catalog
from recommender.catalog.formats import PRESETS
from recommender.catalog.update import update_catalog
from recommender.catalog.variants import pick_variants
from recommender.store import ShopStore
from tests.test_actions import FIXTURES, searched
from tests.test_dialogue_actions import Conversation
from tests.test_order_conversations import responses

MAPPING = PRESETS["default"].with_columns(id="sku", parent_id="parent").with_options(
    {"size": "size", "colour": "colour"})


@pytest.fixture(scope="module")
def outdoor(tmp_path_factory):
    folder = tmp_path_factory.mktemp("outdoor")
    report = import_catalog(FIXTURES / "variants_outdoor.csv", folder / "catalog.db", mapping=MAPPING,
                            currency="EUR", progress=False)
    search = searched(folder)
    yield report, search
    search.catalog.close()


@pytest.fixture
def shopper(outdoor, tmp_path):
    store = ShopStore.open(tmp_path / "shop.db")
    services.use(outdoor[1], store)
    yield Conversation(), store
    services.use(None)
    store.close()


def texts(messages: list[dict]) -> str:
    """Every text a message carries: its own, or the values its response is filled with."""
    return "\n".join(value for m in messages for value in m.values() if isinstance(value, str))


def test_rows_sharing_a_parent_id_are_one_product_and_bad_variants_name_their_line(outdoor):
    report, search = outdoor
    assert (report.products, report.variants) == (7, 16)
    assert [(e.line, e.reason.split(" of ")[0]) for e in report.errors] == [
        (19, "variant 'HAT-1'"), (21, "variant 'TENT-3'")]
    assert "no option value" in report.errors[0].reason and "same options as 'TENT-2' (line 20)" in \
        report.errors[1].reason
    conn = sqlite3.connect(search.catalog.path)
    assert sorted(r[0] for r in conn.execute("SELECT id FROM products")) == \
        ["BOOT", "BOTTLE", "JKT", "SOCK", "STOVE", "TEE", "TENT"]
    rows = conn.execute("SELECT id, options, price, stock FROM variants WHERE product_id = 'TEE' ORDER BY position")
    assert [(i, json.loads(o), p, s) for i, o, p, s in rows][3] == ("TEE-4", [["size", "XL"], ["colour", "Black"]],
                                                                    42.0, 2)
    conn.close()


def test_a_product_takes_its_fields_from_its_rows_its_lowest_price_and_its_summed_stock(outdoor):
    tee, jacket, socks, stove = outdoor[1].catalog.get_products(["TEE", "JKT", "SOCK", "STOVE"])
    assert (tee.title, tee.brand, tee.category, tee.price, tee.stock) == (
        "Merino Trail T-Shirt", "Fjellgear", "T-Shirts", 39.0, 18)
    assert tee.prices_differ and [v.label for v in tee.variants][:2] == ["S / Black", "M / Black"]
    assert (jacket.title, jacket.stock, [v.in_stock for v in jacket.variants]) == (
        "Stormline Rain Jacket", 3, [False, False, True])
    assert not socks.in_stock and not stove.variants
    medium = outdoor[1].catalog.get_product("TEE-2")
    assert (medium.id, medium.product_id, medium.price, medium.in_stock, medium.display_title) == (
        "TEE-2", "TEE", 39.0, False, "Merino Trail T-Shirt (M / Black)")


def test_search_lists_the_product_once_and_its_details_list_the_options(shopper):
    conversation, _ = shopper
    conversation.say("search_products", "merino t-shirt")
    assert conversation.shown.count("TEE") == 1 and not any(pid.startswith("TEE-") for pid in conversation.shown)
    details = texts(conversation.say("product_details", "tell me more about it", product_id="TEE"))
    assert "Options: S / Black (€39), M / Black (€39, out of stock), L / Black (€39), " \
           "XL / Black (€42), M / Olive (€39)." in details


@pytest.mark.parametrize("typed", ["large", "L please", "the second one", "L / Black"])
def test_add_asks_which_option_with_a_button_each_and_reads_the_answer(shopper, typed):
    conversation, store = shopper
    asked = conversation.say("add_to_cart", "add it to my cart", product_id="TEE")
    question = asked[-1]
    assert question["response"] == "utter_which_variant"
    assert question["question"] == ("Which one of Merino Trail T-Shirt: S / Black (€39), L / Black (€39), "
                                    "XL / Black (€42) or M / Olive (€39)? Out of stock: M / Black.")
    assert [b["payload"] for b in question["buttons"]] == [
        '/add_to_cart{"product_id": "TEE-1"}', '/add_to_cart{"product_id": "TEE-3"}',
        '/add_to_cart{"product_id": "TEE-4"}', '/add_to_cart{"product_id": "TEE-5"}']
    assert store.cart_lines(conversation.sender) == []
    ordinal = {"ordinal": "second"} if "second" in typed else {}  # the second button: M / Black is sold out
    added = conversation.say("nlu_fallback", typed, action="action_add_to_cart", **ordinal)
    assert responses(added) == ["utter_added_to_cart"]
    assert "Merino Trail T-Shirt (L / Black)" in added[0]["titles"]
    assert [(line.product_id, line.quantity) for line in store.cart_lines(conversation.sender)] == [("TEE-3", 1)]
    assert conversation.slots["variant_question"] is None and conversation.slots["focus_product_id"] == "TEE"


def test_an_answer_naming_several_options_narrows_the_question_and_an_option_out_of_stock_is_never_added(shopper):
    conversation, store = shopper
    conversation.say("add_to_cart", "add it", product_id="TEE")
    narrowed = conversation.say("nlu_fallback", "medium", action="action_add_to_cart")
    assert narrowed[-1]["question"].startswith("Which one of Merino Trail T-Shirt: M / Olive (€39)?")
    conversation.say("add_to_cart", "add the rain jacket", product_id="JKT")
    refused = conversation.say("nlu_fallback", "S", action="action_add_to_cart")
    assert responses(refused) == ["utter_variant_out_of_stock", "utter_which_variant"]
    assert refused[0]["options"] == "S" and refused[1]["question"].startswith(
        "Which size of Stormline Rain Jacket: L? Out of stock: S and M.")
    assert store.cart_lines(conversation.sender) == []
    sold_out = conversation.say("add_to_cart", "add it", product_id="JKT-M")  # a button shown before it sold out
    assert responses(sold_out) == ["utter_out_of_stock"] and sold_out[0]["titles"] == "Stormline Rain Jacket (M / Navy)"
    conversation.say("add_to_cart", "add it", product_id="JKT-L")  # the button
    assert [line.product_id for line in store.cart_lines(conversation.sender)] == ["JKT-L"]


def test_the_option_named_with_the_request_is_added_without_a_question(shopper):
    conversation, store = shopper
    conversation.say("product_details", "tell me about the boots", product_id="BOOT")
    added = conversation.say("add_to_cart", "add the 42 to my cart")  # the boots in focus
    assert responses(added) == ["utter_added_to_cart"]
    conversation.say("add_to_cart", "add the tent", product_id="TENT")  # its one variant: nothing to ask
    assert [line.product_id for line in store.cart_lines(conversation.sender)] == ["BOOT-42", "TENT-2"]


def test_the_cart_and_the_order_hold_the_variant_at_its_own_price_and_remove_it_finds_it(shopper):
    conversation, store = shopper
    conversation.say("add_to_cart", "add it", product_id="TEE")
    conversation.say("nlu_fallback", "XL", action="action_add_to_cart")
    conversation.say("add_to_cart", "add it", product_id="BOTTLE")
    conversation.say("nlu_fallback", "the 1 l one", action="action_add_to_cart")
    cart = texts(conversation.say("view_cart", "my cart"))
    assert "Merino Trail T-Shirt (XL / Black): 1 x €42" in cart and "(1 l / Blue): 1 x €32" in cart
    removed = conversation.say("remove_from_cart", "remove it")  # the bottle in focus: its 1 l variant
    assert responses(removed) == ["utter_removed_from_cart"]
    placed = conversation.say("checkout", "checkout")
    order = next(m["custom"]["order"] for m in placed if m.get("custom"))
    assert [(line["id"], line["title"], line["unit_price"]) for line in order["lines"]] == [
        ("TEE-4", "Merino Trail T-Shirt (XL / Black)", 42.0)]


def test_a_question_left_unanswered_does_not_catch_a_later_message():
    question = {"product_id": "TEE", "message_id": "m1",
                "variants": [["TEE-1", [["size", "S"]], True], ["TEE-2", [["size", "M"]], False],
                             ["TEE-3", [["size", "L"]], True]]}
    assert answer(question, "m1", "medium", []) == ["TEE-2"]  # named, though out of stock: the action says so
    assert answer(question, "m1", "the second one", ["second"]) == ["TEE-3"]  # the second button
    assert answer(question, "m1", "the fifth", ["fifth"]) == []
    assert answer(question, "m2", "medium", []) is None  # asked two messages ago
    assert answer(question, "m1", "show me jackets", []) is None
    assert answer(question, "m1", "/add_to_cart", [], ["TEE-1"]) is None  # a button names its variant


@pytest.mark.parametrize(("typed", "picked"), [
    ("M", [1, 2]), ("medium please", [1, 2]), ("the black one in medium", [1]), ("extra large", [3]),
    ("black", [0, 1]), ("white or black", [0, 1, 2, 3]), ("size 42", []), ("I'm not sure", []),
])
def test_pick_variants_reads_option_values_and_size_words(typed, picked):
    options = [[["size", "S"], ["colour", "Black"]], [["size", "M"], ["colour", "Black"]],
               [["size", "M"], ["colour", "White"]], [["size", "XL"], ["colour", "White"]]]
    assert pick_variants(typed, options) == picked


def test_pick_variants_reads_options_written_in_chinese():
    assert pick_variants("黑色的", [[["颜色", "黑色"]], [["颜色", "白色"]]]) == [0]


def test_the_policy_sends_an_answer_to_add_to_cart_whatever_its_intent_and_only_right_after_the_question():
    domain = Domain.load(str(config.REPO_ROOT / "domain.yml"))
    policy = VariantAnswerPolicy.__new__(VariantAnswerPolicy)
    policy.priority = 5
    question = {"product_id": "TEE", "message_id": "m1",
                "variants": [["TEE-1", [["size", "S"]], True], ["TEE-3", [["size", "L"]], True]]}

    def predicted(*events) -> str | None:
        tracker = DialogueStateTracker.from_events("s", list(events), domain.slots)
        probabilities = policy.predict_action_probabilities(tracker, domain).probabilities
        return domain.action_names_or_texts[probabilities.index(1.0)] if 1.0 in probabilities else None

    asked = [UserUttered("add it", {"name": "add_to_cart"}, message_id="m1"), ActionExecuted("action_add_to_cart"),
             SlotSet("variant_question", question), ActionExecuted("action_listen")]
    assert predicted(*asked, UserUttered("large", {"name": "nlu_fallback"}, message_id="m2")) == "action_add_to_cart"
    assert predicted(*asked, UserUttered("show me boots", {"name": "search_products"}, message_id="m2")) is None
    later = [*asked, UserUttered("hi", {"name": "greet"}, message_id="m2"), ActionExecuted("action_greet"),
             ActionExecuted("action_listen")]
    assert predicted(*later, UserUttered("large", {"name": "nlu_fallback"}, message_id="m3")) is None
    assert predicted(*asked, UserUttered("large", {"name": "nlu_fallback"}, message_id="m2"),
                     ActionExecuted("action_add_to_cart")) == "action_listen"


def test_an_option_sold_out_between_the_question_and_the_answer_is_not_added(outdoor, tmp_path):
    shutil.copy(outdoor[1].catalog.path, tmp_path / "catalog.db")
    search, store = searched(tmp_path), ShopStore.open(tmp_path / "shop.db")
    services.use(search, store)
    try:
        conversation = Conversation()
        conversation.say("add_to_cart", "add the rain jacket", product_id="JKT")  # "Which size ...: L?"
        (tmp_path / "sold.csv").write_text("sku,stock\nJKT-L,0\n")
        update_catalog(tmp_path / "catalog.db", tmp_path / "sold.csv", mapping=MAPPING)
        answered = conversation.say("nlu_fallback", "L", action="action_add_to_cart")
        assert responses(answered) == ["utter_out_of_stock"] and store.cart_lines(conversation.sender) == []
        assert conversation.slots["variant_question"] is None
    finally:
        services.use(None)
        store.close()
        search.catalog.close()


def test_a_history_naming_variants_counts_their_products(tmp_path):
    (tmp_path / "history.txt").write_text("alice TEE-1 BOOT-42 STOVE\n")
    import_catalog(FIXTURES / "variants_outdoor.csv", tmp_path / "catalog.db", mapping=MAPPING, currency="EUR",
                   interactions=tmp_path / "history.txt", progress=False)
    with Catalog.open(tmp_path / "catalog.db") as catalog:
        assert catalog.shopper_history("alice") == ["TEE", "BOOT", "STOVE"]
