"""Product types derived from titles (recommender.catalog.types) for catalogs without categories."""

from __future__ import annotations

import os
import random
import subprocess
import sys

import pytest

from recommender.catalog.types import derive_type_paths, derive_types, singular_key, title_clauses

# Titles as shops write them, several domains in one catalog, with the type each should get.
CATALOG = [
    ("Roadster Women Black Skinny Fit Jeans", "jeans"),
    ("Levis Men Blue Slim Fit Jeans", "jeans"),
    ("HRX by Hrithik Roshan Men Navy Regular Fit Jeans", "jeans"),
    ("Puma Men Velocity Nitro Running Shoes", "running shoes"),
    ("Nike Women Revolution 6 Running Shoes", "running shoes"),
    ("ASICS Men Gel-Contend 7 Running Shoes", "running shoes"),
    ("Bata Men Black Formal Shoes", "shoes"),  # "formal shoes" alone: the shared head
    ("Red Tape Men White Sneakers", "sneakers"),
    ("HRX Men Grey Casual Sneakers", "sneakers"),
    ("Roadster Women Tan Solid Casual Sneakers", "sneakers"),
    ("Puma Women Pink Printed Round Neck T-shirt", "t-shirt"),
    ("HRX Men Yellow Solid Round Neck T-shirt", "t-shirt"),
    ("Roadster Men Olive Printed T-shirt", "t-shirt"),
    ('Samsung 55" Crystal UHD 4K Smart TV', "tv"),
    ("LG 43 inch Full HD LED TV", "tv"),
    ("Sony Bravia 65 OLED Google TV - 2023 model", "tv"),
    ("Sony WH-1000XM5 Wireless Noise Cancelling Headphones", "headphones"),
    ("Bose QuietComfort 45 Bluetooth Headphones, Black", "headphones"),
    ("JBL Tune 510BT Wireless On-Ear Headphones", "headphones"),
    ("Apple MacBook Air 13-inch Laptop with M2 chip", "laptop"),
    ('Lenovo IdeaPad 3 15.6" Laptop, 8GB RAM', "laptop"),
    ("HP Pavilion 14 Laptop for Students", "laptop"),
    ("BILLY Bookcase, white, 80x28x202 cm", "bookcase"),
    ("LUNDHOLM Bookcase, black-brown, 90x197 cm", "bookcase"),
    ("TOVA Bookcase with 4 inserts", "bookcase"),
    ("WHITE HANGING HEART T-LIGHT HOLDER", "t-light holder"),
    ("ZINC HEART LATTICE T-LIGHT HOLDER", "t-light holder"),
    ("GLASS STAR FROSTED T-LIGHT HOLDER", "t-light holder"),
    # trailing pattern names: learnt not to be heads, because other titles put them before a head
    ("LUNCH BAG RED RETROSPOT", "bag"),
    ("JUMBO BAG PINK POLKADOT", "bag"),
    ("PICNIC BAG", "bag"),
    ("RED RETROSPOT MUG", "mug"),
    ("PINK POLKADOT MUG", "mug"),
    ("SPOTTY MUG", "mug"),
    ("Organic Whole Milk, 1 L", None),  # heads no other title shares
    ("RED RETROSPOT CAKE STAND", None),
    ("Wooden Chess Set", None),  # a container head counts only in a shared pair ("tea set")
    (None, None),
    ("", None),
    ("12345 / 678", None),
]


def test_titles_of_several_domains_get_their_head_noun_as_type() -> None:
    titles = [title for title, _ in CATALOG]
    assert list(zip(titles, derive_types(titles))) == CATALOG


def test_type_paths_put_the_head_first_so_a_filter_on_it_keeps_every_kind() -> None:
    titles = [title for title, _ in CATALOG]
    paths = dict(zip(titles, derive_type_paths(titles)))
    assert paths["Puma Men Velocity Nitro Running Shoes"] == ("shoes", "running shoes")
    assert paths["Bata Men Black Formal Shoes"] == ("shoes",)
    assert paths["WHITE HANGING HEART T-LIGHT HOLDER"] == ("holder", "t-light holder")
    assert paths["LG 43 inch Full HD LED TV"] == ("tv",)
    assert paths["RED RETROSPOT CAKE STAND"] == paths[None] == ()
    assert [p[-1] if p else None for p in paths.values()] == derive_types(list(paths))
    sets = ["Wooden Tea Set", "Porcelain Tea Set", "Travel Tea Set", "Wooden Chess Set"]
    assert derive_type_paths(sets) == [("tea set",)] * 3 + [()]  # a container head is never a type alone


def test_words_group_by_singular_and_show_the_most_common_form() -> None:
    titles = ["SET OF 6 CANDLES", "WHITE CANDLE", "SCENTED CANDLES", "Wall shelves", "Corner shelf", "Floating shelf"]
    assert derive_types(titles) == ["candles", "candles", "candles", "shelf", "shelf", "shelf"]
    assert singular_key("shelves", {"shelf"}) == "shelf"
    words = ("boxes", "batteries", "dress", "jeans", "glasses")
    assert [singular_key(w) for w in words] == ["box", "battery", "dress", "jean", "glass"]


def test_title_clauses_cut_clauses_and_drop_sizes_numbers_colours_and_quantities() -> None:
    assert title_clauses("BILLY Bookcase, white, 80x28x202 cm") == [["billy", "bookcase"]]
    assert title_clauses("SET/2 RED RETROSPOT TEA TOWELS") == [["retrospot", "tea", "towels"]]
    assert title_clauses("HAND WARMER BABUSHKA DESIGN") == [["hand", "warmer"]]
    assert title_clauses("Wild Growth Hair Oil 4oz &quot;Pack of 2&quot;") == [["wild", "growth", "hair", "oil"]]
    assert title_clauses("SJÖVIK 3-seat sofa-bed") == [["sjövik", "sofa-bed"]]
    assert title_clauses("Tea Scrub by St. Ives, 4.5 Ounce") == [["tea", "scrub"], ["st", "ives"]]
    assert title_clauses(None) == title_clauses("") == title_clauses("100 % / 4K") == []


def test_no_type_without_enough_titles_sharing_a_head() -> None:
    unrelated = ["Garden hose", "Espresso machine", "Yoga mat", "Desk lamp", "Tennis racket"]
    assert derive_types(unrelated) == [None] * 5
    jeans = ["Slim Jeans", "Straight Jeans", "Bootcut Jeans"]
    assert derive_types(jeans) == ["jeans"] * 3
    assert derive_types(jeans, min_products=4) == [None] * 3
    assert derive_types(unrelated, min_products=1) == [t.lower() for t in unrelated]
    assert derive_types([]) == []


def test_deterministic() -> None:
    titles = [title for title, _ in CATALOG]
    assert derive_types(titles) == derive_types(list(titles))
    script = f"from recommender.catalog.types import derive_types; print(derive_types({titles!r}))"
    runs = {  # string hashing differs between processes: no set or dict order may leak into the result
        subprocess.run([sys.executable, "-c", script], env={**os.environ, "PYTHONHASHSEED": seed}, capture_output=True,
                       text=True, check=True).stdout
        for seed in ("1", "2")
    }
    assert runs == {f"{derive_types(titles)}\n"}
    shuffled = random.Random(3).sample(CATALOG, len(CATALOG))
    assert derive_types([t for t, _ in shuffled]) == [expected for _, expected in shuffled]


def test_bad_input_is_named() -> None:
    with pytest.raises(TypeError, match=r"titles\[1\] is a int"):
        derive_types(["Slim Jeans", 42])  # type: ignore[list-item]
    with pytest.raises(ValueError, match="min_products"):
        derive_types(["Slim Jeans"], min_products=0)


def test_a_catalog_of_100k_titles() -> None:
    """Scale only (the time is measured by bench/product_types.py): every title typed, one type per kind."""
    rng = random.Random(5)
    kinds = ["Running Shoes", "Skinny Jeans", "Smart TV", "Bookcase", "Coffee Mug", "Throw Pillow", "Desk Lamp",
             "Backpack"]
    brands = [f"Brand{chr(65 + i)}{chr(65 + j)}" for i in range(26) for j in range(26)]
    colours = ["Black", "Navy", "Olive", "Ivory", ""]
    titles = [f"{rng.choice(brands)} {rng.choice(colours)} {rng.choice(kinds)}, {rng.randint(1, 99)} cm"
              for _ in range(100_000)]
    types = derive_types(titles)
    assert len(types) == len(titles) and None not in types
    assert {t.split()[-1] for t in types} == {"shoes", "jeans", "tv", "bookcase", "mug", "pillow", "lamp", "backpack"}
