"""The ranker's relevance floor, measured on the shipped catalog and checked on two other shops': how
often it refuses a query the shop carries, and how often it still lists products for one it does not.

The floor's measure (``ProductSearch.relevance``) is the best cosine between the query text (less its
price phrases, filler and the facet values that became filters) and a product's embedded text,
divided by the catalog's reference cosine (``ProductSearch.reference_cosine``: the median best cosine
of its largest categories' names); a search lists nothing when it is below
``SearchConfig.relevance_floor``. Query sets, typed as shoppers type them, without category or brand
filters (the hardest case: with a filter from the NLU the query's own words often name nothing more,
and the floor does not apply):

- category names: every leaf category with at least ``--min-products`` products, lowercased, "&" as
  "and"; a leaf whose name alone is no product ("Face", "Eyes", "Sports"...) is typed with the
  product it holds ("face care", "sport sunscreen");
- real phrasing: requests as shoppers write them ("something for dry skin", "a gift for my mum who
  loves perfume"), and typos and spelling variants ("mascra", "moisturiser");
- brand names typed alone (the 100 largest brands), for the case where the NLU does not make the
  brand a filter;
- out of catalog: products other shops sell (shoes, TVs, furniture, computers, clothes, pet food,
  toys, kitchen, garden, tools...), in several phrasings. The catalog carries a few things one might
  think it does not (it has a dry dog food): those are left out, and named in the result.

The check on other shops imports the two fixture catalogs (tests/fixtures/catalogs: fashion in
rupees with descriptions, colour and gender facets and no categories, so derived product types;
electronics in euros with descriptions and facets) into a temporary folder, embeds them with the
same encoder, and measures their own in-catalog and out-of-catalog requests (facet values named in
a request become filters, as the search action does).

For candidate floors it gives the false no-match rate of each set and the share of out-of-catalog
queries that still get a listing; at the configured floor it lists every query on the wrong side
with the product it would show. Writes a Markdown table and a figure.

Usage: .venv/bin/python bench/relevance_floor.py [--out bench/results/relevance_floor.md]
(run `shopbot setup` first; the shipped catalog and its embeddings are only read)
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import click
import numpy as np

from _common import catalog_options, machine_header  # bench/_common.py, next to this file
from recommender import Filters, ProductSearch, SearchConfig, import_catalog
from recommender.catalog.formats import ColumnMapping

RESULTS = Path(__file__).parent / "results"
FIXTURES = Path(__file__).parent.parent / "tests" / "fixtures" / "catalogs"
FLOORS = (0.55, 0.60, 0.65, 0.68, 0.70, 0.71, 0.72, 0.74, 0.77, 0.80, 0.85)
# Leaves whose name alone names no product: as a shopper would ask for what they hold.
TYPED = {"Face": "face care", "Eyes": "eye care", "Sports": "sport sunscreen", "Combinations": "eye cream",
         "Fluids": "face fluid", "Washes": "face wash"}
REAL = [
    "something for dry skin", "a gift for my mum who loves perfume", "mascara that doesn't clump",
    "anti aging night cream", "shampoo for oily hair", "red nail polish", "hair straightener", "curling wand",
    "makeup brush set", "lip balm", "sunscreen for my face spf 50", "dry shampoo", "eyelash glue", "fake tan",
    "perfume for men", "body wash for sensitive skin", "acne spot treatment", "brown hair dye",
    "serum for frizzy hair", "foot cream for cracked heels", "face mask", "cream for dark circles under my eyes",
    "waterproof eyeliner", "long lasting lipstick", "hair dryer", "clip in hair extensions", "gel nail polish",
    "toner for oily skin", "vitamin c serum", "hand cream", "bath salts", "i need a good conditioner for curly hair",
    "what do you have for thinning hair", "shower cap", "a nice smelling body lotion",
    "matte foundation for oily skin", "eyebrow pencil", "makeup remover wipes", "tea tree oil", "argan oil for hair",
    "do you have any lipstick under $10", "a good moisturizer for men",
]
TYPOS = ["mascra", "shampo", "moisturiser", "lipstik", "conditoner", "eyeshadow", "nailpolish", "sunscrean",
         "foundaton", "perfum", "hair sprey", "eye liner", "concelear", "body scrub", "deodorant"]
OUT = [
    "running shoes", "show me running shoes", "nike running shoes for men", "do you sell running shoes",
    "55 inch tv", "a 55 inch tv under 400 euros", "smart tv", "sofa", "grey sectional sofa",
    "a comfy couch for the living room", "i'm looking for a sofa", "laptop", "gaming laptop with 16gb ram",
    "cheap laptop under 500", "jeans", "black jeans for women", "skinny jeans", "men's jeans size 32",
    "lego", "lego star wars set", "lego for a 6 year old", "kitchen knives", "chef knife", "a set of kitchen knives",
    "headphones", "wireless earbuds", "noise cancelling headphones", "iphone case", "office chair", "dining table",
    "queen mattress", "coffee maker", "blender", "microwave", "vacuum cleaner", "winter jacket", "men's t-shirt",
    "hiking boots", "camping tent", "bicycle", "car tires", "motor oil", "printer ink", "usb cable",
    "phone charger", "garden hose", "lawn mower", "cordless drill", "light bulbs", "curtains", "bed sheets",
    "baby stroller", "cat litter", "fish tank", "board games", "jigsaw puzzle", "toy car", "video games",
    "ps5 controller", "acoustic guitar", "books", "coffee beans", "pasta", "wine glasses", "frying pan",
    "cookware set", "sunglasses", "backpack", "suitcase", "umbrella", "socks", "summer dress", "tennis racket",
    "football", "washing machine", "refrigerator", "desk lamp", "bluetooth speaker", "running shorts",
    "kids bike helmet", "a new phone", "tablet", "monitor", "keyboard and mouse", "bookshelf", "rug", "pillows",
    "trash can", "paper towels", "toilet paper", "batteries",
]
CARRIED = {"dog food": "the catalog has a dry dog food (Castor & Pollux Organix)"}  # left out of OUT
# The two fixture shops: how to import them (tests/fixtures/catalogs/README.md), what they carry, what not.
SHOPS = {
    "fashion (INR)": (
        "fashion_inr.csv",
        ColumnMapping().with_columns(id="ProductID", title="ProductName", brand="ProductBrand", price="Price",
                                     description="Description").with_facets({"gender": "Gender",
                                                                             "colour": "PrimaryColor"}),
        ["jeans", "black jeans for women", "running shoes", "running shoes under 3000", "white sneakers", "t-shirt",
         "a printed t-shirt for my son", "kurta", "a cotton kurta for a festival", "saree", "summer dress",
         "a dress for a party", "jacket", "windbreaker", "formal shirt for men", "shoes", "a backpack", "track pants",
         "sportswear", "jeanz", "snekers"],
        ["55 inch tv", "laptop", "shampoo", "lipstick", "sofa", "dog food", "coffee maker", "lego", "kitchen knives",
         "mascara", "headphones", "face cream", "vacuum cleaner", "bed sheets", "car tires", "printer ink", "pasta",
         "a novel", "acoustic guitar", "phone charger"]),
    "electronics (EUR)": (
        "electronics_eur.csv",
        ColumnMapping().with_columns(id="sku").with_facets({"colour": "colour", "screen size": "screen_size"}),
        ["55 inch tv", "a 55 inch tv under 400 euros", "headphones", "noise cancelling headphones", "wireless earbuds",
         "bluetooth speaker", "soundbar", "laptop", "a gaming laptop", "monitor", "smartphone", "phone charger",
         "usb cable", "smartwatch", "fitness tracker", "camera", "coffee machine", "something to make coffee",
         "air fryer", "blender", "kettle", "vacuum cleaner", "microwave", "headphnes", "labtop"],
        ["running shoes", "jeans", "lipstick", "shampoo", "sofa", "dog food", "lego", "kitchen knives", "mascara",
         "summer dress", "face cream", "a novel", "hiking boots", "perfume", "t-shirt", "curtains", "pasta",
         "garden hose", "nail polish", "dining table"]),
}


def in_catalog_categories(search: ProductSearch, min_products: int) -> list[str]:
    """Each leaf category with enough products, as a shopper types it."""
    return [TYPED.get(name, name.lower().replace("&", "and"))
            for name, count in search.catalog.categories() if count >= min_products]


def measure(search: ProductSearch, queries: Sequence[str]) -> dict[str, float]:
    """query -> relevance, the facet values it names taken as filters (as the search action does); a
    query with no words beyond them (the floor does not apply) counts as relevant."""
    out = {}
    for query in queries:
        value = search.relevance(query, Filters(facets=search.facets_in(query)))
        out[query] = np.inf if value is None else value
    return out


def rate(values: np.ndarray, floor: float, below: bool) -> float:
    """Share of ``values`` below the floor (refused) or at or above it (listed)."""
    return float(np.mean(values < floor if below else values >= floor)) if len(values) else 0.0


def shown(search: ProductSearch, query: str) -> str:
    """The first product the search lists for ``query`` (its facet values as filters)."""
    results = search.search(query, Filters(facets=search.facets_in(query)), n=1).results
    return results[0].product.display_title[:70] if results else "(nothing)"


def other_shops(floor: float, folder: Path) -> tuple[list[str], dict[str, tuple[np.ndarray, np.ndarray]]]:
    """Lines about the fixture shops at ``floor``, and per shop its (in-catalog, out-of-catalog) measures."""
    lines, sets = [], {}
    for name, (file, mapping, carried, not_carried) in SHOPS.items():
        db = folder / file.replace(".csv", ".db")
        import_catalog(FIXTURES / file, db, mapping=mapping, progress=False)
        search = ProductSearch.from_paths(db, folder / db.stem, progress=False, model_path=folder / "no-cf.pt")
        inside, outside = measure(search, carried), measure(search, not_carried)
        sets[name] = (np.array(list(inside.values())), np.array(list(outside.values())))
        refused = [(q, v) for q, v in inside.items() if v < floor]
        listed = [(q, v, shown(search, q)) for q, v in outside.items() if v >= floor]
        lines += [f"- **{name}**, {search.catalog.count_products()} products, reference cosine "
                  f"{search.reference_cosine():.3f}: {len(refused)} of {len(inside)} in-catalog requests refused"
                  + (" (" + ", ".join(f"{q!r} {v:.2f}" for q, v in refused) + ")" if refused else "")
                  + f"; {len(listed)} of {len(outside)} out-of-catalog requests listed"
                  + (" (" + "; ".join(f"{q!r} {v:.2f}: {top}" for q, v, top in listed) + ")" if listed else "") + "."]
        search.close()
    return lines, sets


def figure(sets: dict[str, np.ndarray], floor: float, path: Path) -> None:
    """Left: false no-match and unrelated-listing rates against the floor; right: the measure per query set."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    grid = np.round(np.arange(0.40, 1.001, 0.005), 3)
    fig, (left, right) = plt.subplots(1, 2, figsize=(13, 5))
    for name, values in sets.items():
        out = "out of catalog" in name
        left.plot(grid, [rate(values, f, below=not out) for f in grid], lw=2.2 if out else 1.3,
                  ls="-" if out else "--", label=f"{name}: {'listed' if out else 'refused'}")
    left.axvline(floor, color="k", lw=0.8)
    left.set(xlabel="relevance floor (best cosine / reference cosine)", ylabel="share of queries",
             title="Refused in-catalog queries vs listed out-of-catalog ones")
    left.legend(fontsize=7)
    names = list(sets)
    for i, name in enumerate(names):
        values = np.minimum(sets[name], 1.6)
        right.scatter(values, np.full(len(values), i) + np.random.default_rng(i).uniform(-0.2, 0.2, len(values)),
                      s=9, alpha=0.6)
    right.axvline(floor, color="k", lw=0.8)
    right.set_yticks(range(len(names)), names, fontsize=8)
    right.set(xlabel="relevance (best cosine / reference cosine)", title=f"The measure per query (floor {floor})")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


@click.command()
@catalog_options
@click.option("--min-products", default=20, show_default=True, help="leaf categories with at least this many")
@click.option("--out", type=click.Path(dir_okay=False), default=str(RESULTS / "relevance_floor.md"), show_default=True)
def main(catalog_path: str | None, cache_dir: str | None, min_products: int, out: str) -> None:
    started = time.perf_counter()
    search = ProductSearch.from_paths(catalog_path, cache_dir, progress=False, model_path="/nonexistent/cf.pt")
    floor = SearchConfig().relevance_floor
    reference = search.reference_cosine()
    queries = {
        "category names": in_catalog_categories(search, min_products),
        "real phrasing": REAL,
        "typos": TYPOS,
        "brands typed alone": [name for name, _ in search.catalog.brands()[:100]],
        "out of catalog": OUT,
    }
    measured = {name: measure(search, qs) for name, qs in queries.items()}
    sets = {name: np.array(list(values.values())) for name, values in measured.items()}
    in_catalog = np.concatenate([sets["category names"], sets["real phrasing"], sets["typos"]])
    for values in measured.values():  # the search itself agrees with the measure at the configured floor
        for query, value in list(values.items())[::7]:
            outcome = search.search(query)
            assert outcome.no_match == (value < floor) and bool(outcome.results) == (value >= floor), (query, value)
    with tempfile.TemporaryDirectory(prefix="relevance-floor-") as folder:
        shop_lines, shop_sets = other_shops(floor, Path(folder))

    lines = [machine_header("Relevance floor", f"{search.catalog.count_products():,} products"), "",
             "`bench/relevance_floor.py`: the ranker's relevance floor (`SearchConfig.relevance_floor`). "
             "Relevance = the best cosine between the query text (less price phrases, filler and the facet values "
             "that became filters) and a product's embedded text, divided by the catalog's reference cosine (the "
             "median best cosine of its largest categories' names); below the floor a search lists nothing and says "
             f"the shop does not carry it. Shipped catalog: reference cosine **{reference:.3f}**, so the floor "
             f"{floor} is a cosine of {floor * reference:.3f}. Queries without category or brand filters. "
             f"In-catalog: {len(sets['category names'])} leaf category names (>= {min_products} products), "
             f"{len(REAL)} requests in real phrasing, {len(TYPOS)} typos or spelling variants; "
             f"{len(sets['brands typed alone'])} brand names typed alone; {len(OUT)} out-of-catalog requests "
             "(products other shops sell, several phrasings).", "",
             "Refused = false no-match (an in-catalog query gets \"we don't carry it\"); listed = an "
             "out-of-catalog query still gets products (unrelated ones). Shipped catalog:", "",
             "| floor | as a cosine | category names refused | real phrasing refused | typos refused "
             "| all in-catalog refused | brands alone refused | out of catalog listed |",
             "|---|---|---|---|---|---|---|---|"]
    for f in sorted({*FLOORS, floor}):
        mark = f"**{f:.2f}**" if f == floor else f"{f:.2f}"
        cells = [rate(sets[n], f, below=True) for n in ("category names", "real phrasing", "typos")]
        cells += [rate(in_catalog, f, below=True), rate(sets["brands typed alone"], f, below=True),
                  rate(sets["out of catalog"], f, below=False)]
        lines.append(f"| {mark} | {f * reference:.3f} | " + " | ".join(f"{c:.1%}" for c in cells) + " |")
    refused_in = [(q, v) for n in ("category names", "real phrasing", "typos") for q, v in measured[n].items()
                  if v < floor]
    listed_out = [(q, v) for q, v in measured["out of catalog"].items() if v >= floor]
    brands_refused = [(q, v) for q, v in measured["brands typed alone"].items() if v < floor]
    lines += ["", f"At the configured floor **{floor:.2f}**: {rate(in_catalog, floor, True):.1%} of the "
              f"{len(in_catalog)} in-catalog queries refused ({len(refused_in)}), "
              f"{rate(sets['out of catalog'], floor, False):.1%} of the {len(OUT)} out-of-catalog queries "
              f"listed ({len(listed_out)}); median relevance: in-catalog {np.median(in_catalog):.3f}, "
              f"out of catalog {np.median(sets['out of catalog']):.3f}.", "",
              "In-catalog queries refused at this floor (relevance):", ""]
    lines += [f"- {q!r} ({v:.3f})" for q, v in sorted(refused_in, key=lambda item: item[1])] or ["- none"]
    lines += ["", "Out-of-catalog queries still listed at this floor (relevance, the first product shown):", ""]
    lines += [f"- {q!r} ({v:.3f}): {shown(search, q)}" for q, v in sorted(listed_out, key=lambda item: -item[1])] \
        or ["- none"]
    lines += ["", "Brand names typed alone and refused (the NLU normally makes a brand a filter, and then the "
              "floor does not apply): " + (", ".join(f"{q!r} ({v:.3f})" for q, v in brands_refused) or "none") + ".",
              "", "Left out of the out-of-catalog set because the catalog carries them: "
              + "; ".join(f"{q!r}: {why}" for q, why in CARRIED.items()) + ".", "",
              "Other shops at the same floor (fixture catalogs, their own requests; facet values named become "
              "filters):", "", *shop_lines, "",
              f"Figure: `{Path(out).with_suffix('.png').name}`. Run time {time.perf_counter() - started:.0f} s."]
    Path(out).write_text("\n".join(lines) + "\n", encoding="utf-8")
    figure({"category names": sets["category names"], "real phrasing": sets["real phrasing"], "typos": sets["typos"],
            "brands alone": sets["brands typed alone"], "out of catalog": sets["out of catalog"],
            **{f"{shop}: in catalog": pair[0] for shop, pair in shop_sets.items()},
            **{f"{shop}: out of catalog": pair[1] for shop, pair in shop_sets.items()}},
           floor, Path(out).with_suffix(".png"))
    click.echo("\n".join(lines))


if __name__ == "__main__":
    main()
