"""Generate data/nlu/lookups.yml (brand and category lookup tables + entity synonyms) from the catalog,
and data/nlu/prices.yml (the price regex features) from the recommender's price vocabulary.

The NLU model never sees the catalog, so the words shoppers use for brands and categories
reach it through this generated file:

- lookup tables ``brand`` and ``category`` feed the RegexFeaturizer (``use_lookup_tables``), a
  "this token is a known brand/category" feature for DIET;
- synonyms let the EntitySynonymMapper turn what was typed ("loreal", "shampoo", "OPI") into the
  canonical catalog value ("L'Oreal Paris", "Shampoos") that ``Catalog.filter_ids`` understands.

What goes in, and why (training must stay fast, and a wrong synonym is worse than none):

- the brands worth naming (``recommender.catalog.naming``): 3 or more products, or one of the
  catalog's 100 biggest: ~670 of 2,076 brands of the Beauty catalog, every brand of a small shop. The
  long tail of one- and two-product brands of a big catalog makes the regex huge and almost never
  gets asked for; the action still passes the shopper's words to semantic search, which finds them.
- leaf categories with >= ``MIN_PRODUCTS`` products (all but a handful of one- and two-product
  leaves such as "Women's" or "Sun", which are audiences or areas rather than product kinds),
  except those found in several departments: "Creams" (body, eyes, hair relaxers), "Lotions",
  "Oils", "Gels", "Cleansers", "Face", "Eyes", "Sets" name no one kind of product, and as a hard
  filter "face cream" would become "Creams" and miss every face cream. Those words reach
  semantic search instead.
- brand names that are everyday words, i.e. that occur in the titles of products of
  >= ``COMMON_WORD_BRANDS`` (20) other brands ("Clear", "Fresh", "Classic", "100% Pure"), are left
  out of the lookup table: a regex hit on "clear" says nothing about a brand. So are brands spelled
  like chat words ("HEY"). Placeholder brands ("Generic") are left out entirely.
- variants, each mapped to its canonical value by a synonym: lowercase, without punctuation or
  trademark signs ("loreal paris", "wen by chaz dean"), without a trailing company word or
  "by ..." tail ("l'oreal", "wen", "sigma"), "&" spelled "and", hyphens as spaces, singular and
  plural of the last word ("shampoo", "nail polishes"), two-word names joined ("eyeshadow").
- a variant is kept only where it is unambiguous: it must map to exactly one brand or category
  (brands differing only in case, like "TIGI"/"Tigi", are one brand: the filter ignores case), it
  may not be both a brand and a category variant, and a derived category variant may not name a
  bigger category better ("polish" is not "Polishes", 7 products, when "Nail Polish" has 712).

The file is written by a YAML serializer (``_dump``: PyYAML's SafeDumper, examples as literal blocks),
never by joining strings: whatever a catalog's brand or category holds (a line break and
"- intent: greet"), it stays one example of a lookup table and cannot add an intent. Each entry is
also put on one line (``one_line``), as the importer does.

The output is deterministic (sorted), so the committed file only changes when the catalog does.
Run it as ``shopbot nlu-lookups`` or ``python -m bot.nlu_lookups`` (which also rewrites prices.yml).
"""

from __future__ import annotations

import html
import logging
import re
import sys
from collections import Counter, defaultdict
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from recommender import config
from recommender.catalog.formats import one_line
from recommender.catalog import naming
from recommender.catalog.types import singular_key
from recommender.ranking.prices import nlu_regexes

if TYPE_CHECKING:
    from recommender import Catalog

logger = logging.getLogger(__name__)

MIN_PRODUCTS = 3  # leaf categories with fewer products are left out
COMMON_WORD_BRANDS = 20  # a brand name in the titles of this many other brands is an everyday word
PLACEHOLDER_BRANDS = frozenset({"generic", "unbranded", "unknown", "n/a", "na", "none", "other"})
# Words of the conversation itself: a brand spelled like one ("HEY") stays out of the lookup table,
# or every "hey there" would light up the brand feature.
CHAT_WORDS = frozenset({"hi", "hey", "hello", "yo", "bye", "thanks", "thank you", "help", "yes", "no",
                        "ok", "okay", "please", "sorry", "more", "next", "again", "compare", "cart"})
# Trailing words that name the company rather than the brand ("Acme Inc." -> "acme", "X Paris" -> "x"),
# whatever the shop sells; the catalog adds its own (`_company_words`).
GENERIC_COMPANY_WORDS = frozenset({
    "inc", "inc.", "co", "co.", "corp", "corp.", "corporation", "company", "ltd", "ltd.", "llc", "gmbh", "plc",
    "group", "international", "brands", "products", "professional", "labs", "laboratories", "medical",
    "usa", "uk", "paris", "london", "new york", "milano", "italia", "japan"})
SHARED_TAIL_BRANDS = 4  # a last word that ends this many brand names names the trade ("... Cosmetics")
TRADEMARKS = re.compile(r"\s*(\(r\)|\(tm\)|®|™|©)\s*", re.IGNORECASE)
HEADER = ("# generated by `shopbot nlu-lookups` (bot/nlu_lookups.py) from the catalog; do not edit.\n"
          "# Regenerate after importing a new catalog, then retrain.\n")

OUTPUT_PATH = config.REPO_ROOT / "data" / "nlu" / "lookups.yml"
PRICES_PATH = config.REPO_ROOT / "data" / "nlu" / "prices.yml"
PRICES_HEADER = """\
# generated by `python -m bot.nlu_lookups` (bot/nlu_lookups.py) from recommender/ranking/prices.py; do not edit.
# Regex features (RegexFeaturizer, use_regexes): they mark tokens, they do not extract anything.
# DIET still learns price_min/price_max from the annotated examples; the cue features tell it which
# side of the budget a number is on ("under $20" vs "over $20", the second number of a range).
# The same vocabulary parses the tagged amounts (actions/prices.py) and drops price phrases from the
# ranker's query text, so the three agree (tests/test_price_vocabulary.py).
"""


def generate(catalog: Catalog) -> str:
    """Return the text of lookups.yml for this catalog."""
    index = _brands_by_title_word(catalog)
    spread = _departments(catalog)
    brands = _brand_owners(catalog.brands(), index, _department_names(catalog))
    title_words = set(index)
    counts = catalog.categories()
    leaves = [(c, n) for c, n in counts if len(spread.get(c, ())) <= 1]
    vague = {c for c, _ in counts if len(spread.get(c, ())) > 1}  # "Creams": no one kind
    categories = _category_owners(leaves, title_words,
                                  set().union(*(_category_variants(c, title_words) for c in vague)),
                                  _categories_by_title_word(catalog))
    clashes = set(brands) & set(categories)
    brands = {form: b for form, b in brands.items() if form not in clashes}
    categories = {form: c for form, c in categories.items() if form not in clashes}

    common = {b for b in set(brands.values()) if _is_common_word(b, index) or b.lower() in CHAT_WORDS}
    brand_lookup = sorted(form for form, b in brands.items() if b not in common)
    category_lookup = sorted(categories)
    synonyms = _synonyms({**brands, **categories})
    logger.info("lookups: %d brand and %d category entries, %d synonyms",
                len(brand_lookup), len(category_lookup), len(synonyms))
    return _render(brand_lookup, category_lookup, synonyms,
                   len(set(brands.values())), len(set(categories.values())))


def _brand_owners(brand_counts: Iterable[tuple[str, int]], index: dict[str, set[str]],
                  departments: Iterable[str] = ()) -> dict[str, str]:
    """Unambiguous lowercase brand spelling -> canonical brand."""
    brands = _canonical_brands(brand_counts)
    company_words = _company_words(brands, departments)
    variants = {b: _brand_variants(b, company_words) for b in brands}
    starts: dict[str, set[str]] = defaultdict(set)  # "glow" -> {"Glow Beauty", "Glow Cosmetics"}
    for brand in brands:
        words = brand.lower().split()
        for i in range(1, len(words)):
            starts[" ".join(words[:i])].add(brand)
    for brand, forms in variants.items():  # "Hot Tools" -/-> "hot", "Natural Cosmetics" -/-> "natural"
        forms -= {f for f in forms if f != brand.lower() and (_is_common_word(f, index) or starts[f] - {brand})}
    return _owners(variants)


def _category_owners(category_counts: Iterable[tuple[str, int]], title_words: set[str],
                     vague: set[str] = frozenset(), in_titles: dict[str, Counter[str]] | None = None) -> dict[str, str]:
    """Unambiguous lowercase category spelling -> canonical leaf category.

    A part of a name that joins several ("kettles" of "Kettles & Toasters") names it too, when no whole
    name is spelled so, it is none of the ``vague`` spellings (of leaves found in several departments:
    "lotions" never names "Creams, Gels & Lotions"), and, a single word, when at least half the products
    with that word in their titles are in that category (``in_titles``: word key -> category -> products):
    "kettle" names "Kettles & Toasters", "hair" never names "Hair & Scalp Treatments".
    """
    sizes = dict(category_counts)
    kept = [c for c, n in sizes.items() if n >= MIN_PRODUCTS]
    owners = _owners({c: _category_variants(c, title_words) for c in kept})

    def names_it(form: str, category: str) -> bool:
        if " " in form:
            return True
        seen = (in_titles or {}).get(singular_key(form))
        return bool(seen) and 2 * seen[category] >= sum(seen.values())

    parts = _owners({c: {f for f in _part_variants(c, title_words) - vague if names_it(f, c)} for c in kept})
    return _drop_swallowed(owners | {form: c for form, c in parts.items() if form not in owners}, sizes)


def prices() -> str:
    """Return the text of prices.yml: the price regex features of the shared price vocabulary."""
    items = [{"regex": name, "examples": _examples(patterns)} for name, patterns in nlu_regexes().items()]
    return _dump(PRICES_HEADER, items)


def write(catalog: Catalog, path: Path = OUTPUT_PATH) -> Path:
    """Write lookups.yml for this catalog to ``path`` and return the path."""
    path.write_text(generate(catalog), encoding="utf-8")
    return path


def main() -> int:
    """Regenerate data/nlu/lookups.yml from the catalog at ``config.catalog_path()``, and prices.yml."""
    from recommender import Catalog

    logging.basicConfig(level=logging.INFO, format="%(message)s")
    with Catalog.open(config.catalog_path()) as catalog:
        path = write(catalog)
    PRICES_PATH.write_text(prices(), encoding="utf-8")
    logger.info("wrote %s and %s", path, PRICES_PATH)
    return 0


def _canonical_brands(brand_counts: Iterable[tuple[str, int]]) -> list[str]:
    """Brands worth naming (``naming.worth_naming``); brands equal but for case merge into the biggest spelling."""
    by_key: dict[str, list[tuple[int, str]]] = defaultdict(list)
    for brand, n in brand_counts:
        brand = html.unescape(brand).strip()
        if brand and brand.lower() not in PLACEHOLDER_BRANDS:
            by_key[brand.lower()].append((n, brand))
    merged = sorted(((sum(n for n, _ in spellings), min(spellings, key=lambda s: (-s[0], s[1]))[1])
                     for spellings in by_key.values()), key=lambda nb: (-nb[0], nb[1]))
    return sorted(brand for rank, (n, brand) in enumerate(merged) if naming.worth_naming(rank, n))


def _company_words(brands: Iterable[str], departments: Iterable[str]) -> list[str]:
    """Trailing words that name a company, not its brand: the generic ones, the catalog's departments
    ("Skin Care", "skincare", and "Tools" of "Tools & Accessories"; not a narrow category like "Face" of
    "Kiss My Face") and a last word that ends several brand names ("Cosmetics" of "Benefit Cosmetics",
    "Sigma Cosmetics", ...). Longest first, so "x skin care" loses both words."""
    words = set(GENERIC_COMPANY_WORDS)
    for level in departments:
        name = level.lower()
        words.update((name, name.replace(" ", "")))
        words.update(part.strip() for part in re.split(r"\s*(?:&|,|\band\b)\s*", name) if part.strip())
    tails = Counter(b.lower().rstrip(" ,.").split()[-1] for b in brands if len(b.split()) > 1)
    words.update(word for word, n in tails.items() if n >= SHARED_TAIL_BRANDS and word.isalpha())
    return sorted(words, key=lambda w: (-len(w), w))


def _brand_variants(brand: str, company_words: Iterable[str] = GENERIC_COMPANY_WORDS) -> set[str]:
    """Lowercase ways of writing a brand: as is, without trademarks/punctuation/company words."""
    base = _squash(TRADEMARKS.sub(" ", brand.lower()))
    short = re.sub(r"\s+by\s+.*$", "", base)
    while True:  # "giovanni cosmetics, inc." -> "giovanni cosmetics," -> "giovanni"
        stripped = short.rstrip(" ,.-")
        for word in company_words:
            if stripped.endswith(" " + word):
                stripped = stripped[: -len(word) - 1]
                break
        if stripped == short:
            break
        short = stripped
    forms = {brand.lower(), base, short}
    for form in (base, short):  # l'oreal -> loreal, e.l.f. -> elf
        forms.add(_squash(re.sub(r"[^\w\s&%+-]", "", form)))
    return {f for f in forms if len(f) >= 3 or f == brand.lower()}


def _category_variants(category: str, title_words: set[str]) -> set[str]:
    """Lowercase ways of writing a category: and/&, hyphens, singular/plural, joined words.

    Two-word names are also joined ("eyeshadow", "hairspray"), but only where product titles
    use the joined word: "bathtray" is nobody's spelling.
    """
    base = category.lower()
    forms = {base, base.replace("&", "and"), base.replace("-", " ")}
    if "&" not in base and "," not in base:
        words = base.replace("-", " ").split()
        last = words[-1]
        other = _singular(last) if last.endswith("s") else _plural(last)
        if other and (last.endswith("s") or other in title_words):  # no "makeups", "hair cares"
            forms.add(" ".join(words[:-1] + [other]))
        if len(words) == 2:
            joined = {f.replace(" ", "") for f in forms if f.count(" ") == 1}
            forms.update(j for j in joined if j in title_words)
    return {_squash(f) for f in forms}


def _part_variants(category: str, title_words: set[str]) -> set[str]:
    """The spellings of each part of a name that joins several: "kettles", "kettle", "toasters" and
    "toaster" of "Kettles & Toasters" (none for a name of one part)."""
    parts = [p for p in re.split(r"\s*(?:&|,)\s*", category) if p]
    return set().union(*(_category_variants(p, title_words) for p in parts)) if len(parts) > 1 else set()


def _singular(word: str) -> str | None:
    if word.endswith(("ss", "us", "is")):
        return None
    if word.endswith("ies"):
        return word[:-3] + "y"
    if word.endswith(("shes", "ches", "sses", "xes")):
        return word[:-2]
    return word[:-1]


def _plural(word: str) -> str:
    if word.endswith(("sh", "ch", "x", "s")):
        return word + "es"
    if word.endswith("y") and word[-2:-1] not in "aeiou":
        return word[:-1] + "ies"
    return word + "s"


def _squash(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def _owners(variants: dict[str, set[str]]) -> dict[str, str]:
    """variant -> the one canonical value it names; variants naming several are dropped, except that a
    value's own name is its own ("avalon" is the brand Avalon, not also Avalon Organics shortened)."""
    exact = {canonical.lower() for canonical in variants}
    owners: dict[str, str | None] = {}
    for canonical, forms in variants.items():
        for form in forms:
            if form in exact and form != canonical.lower():
                continue
            owners[form] = canonical if owners.get(form, canonical) == canonical else None
    return {form: canonical for form, canonical in owners.items() if canonical}


def _drop_swallowed(owners: dict[str, str], sizes: dict[str, int]) -> dict[str, str]:
    """Drop derived variants that, as words, are part of a bigger category's name."""
    names = {c.lower(): n for c, n in sizes.items()}
    kept = {}
    for form, canonical in owners.items():
        if form != canonical.lower():
            pattern = re.compile(rf"(?<!\w){re.escape(form)}(?!\w)")
            own = sizes.get(canonical, 0)
            if any(n > own and name != canonical.lower() and pattern.search(name)
                   for name, n in names.items()):
                continue
        kept[form] = canonical
    return kept


def _departments(catalog: Catalog) -> dict[str, set[str]]:
    """category level -> the departments (top levels below the common root) it occurs in."""
    paths = [p.category_path for p in catalog.iter_products() if p.category_path]
    roots = {path[0] for path in paths}
    depth = 1 if len(roots) == 1 else 0  # "Beauty > Hair Care > ...": the department is "Hair Care"
    found: dict[str, set[str]] = defaultdict(set)
    for path in paths:
        for level in path[depth + 1:]:
            found[level].add(path[depth])
    return found


def _department_names(catalog: Catalog) -> set[str]:
    """The top two levels of the category paths: the shop's root(s) and departments ("Beauty", "Skin Care")."""
    return {level for p in catalog.iter_products() for level in (p.category_path or ())[:2]}


def _brands_by_title_word(catalog: Catalog) -> dict[str, set[str]]:
    """word -> lowercase brands of the products whose title contains that word."""
    index: dict[str, set[str]] = defaultdict(set)
    for p in catalog.iter_products():
        for word in set(re.findall(r"\w+", (p.title or "").lower())):
            index[word].add((p.brand or "").lower())
    return index


def _categories_by_title_word(catalog: Catalog) -> dict[str, Counter[str]]:
    """Singular word key -> how many products of each leaf category have that word in their title."""
    found: dict[str, Counter[str]] = defaultdict(Counter)
    for p in catalog.iter_products():
        for key in {singular_key(w) for w in re.findall(r"\w+", (p.title or "").lower())}:
            found[key][p.category or ""] += 1
    return found


def _is_common_word(brand: str, index: dict[str, set[str]]) -> bool:
    """True when all words of the brand name occur in titles of >= COMMON_WORD_BRANDS other brands."""
    words = re.findall(r"\w+", brand.lower())
    others = set.intersection(*(index.get(w, set()) for w in words)) if words else set()
    return len(others - {brand.lower()}) >= COMMON_WORD_BRANDS


def _synonyms(owners: dict[str, str]) -> dict[str, list[str]]:
    """canonical value -> sorted variants that differ from it (case-insensitively)."""
    synonyms: dict[str, list[str]] = defaultdict(list)
    for form, canonical in owners.items():
        if form != canonical.lower():
            synonyms[canonical].append(form)
    return {c: sorted(forms) for c, forms in sorted(synonyms.items())}


def _render(brands: list[str], categories: list[str], synonyms: dict[str, list[str]],
            n_brands: int, n_categories: int) -> str:
    header = (f"{HEADER}# {n_brands} brands ({naming.MIN_PRODUCTS} or more products, or among the {naming.TOP} "
              f"biggest) and {n_categories} leaf categories (>= {MIN_PRODUCTS} products each).\n")
    items: list[dict[str, Any]] = [{"lookup": name, "examples": _examples(entries)}
                                   for name, entries in (("brand", brands), ("category", categories))]
    items += [{"synonym": _Quoted(one_line(canonical)), "examples": _examples(forms)}
              for canonical, forms in synonyms.items()]
    return _dump(header, items)


class _Block(str):
    """A string written as a YAML literal block (``|``), as Rasa's examples are."""


class _Quoted(str):
    """A string written double-quoted."""


class _Dumper(yaml.SafeDumper):
    """SafeDumper that writes _Block and _Quoted strings in their style."""


_Dumper.add_representer(_Block, lambda d, v: d.represent_scalar("tag:yaml.org,2002:str", v, style="|"))
_Dumper.add_representer(_Quoted, lambda d, v: d.represent_scalar("tag:yaml.org,2002:str", v, style='"'))


def _examples(entries: Iterable[str]) -> _Block:
    """Rasa's examples text: one ``- entry`` line per entry, each entry on one line."""
    return _Block("".join(f"- {line}\n" for line in (one_line(e) for e in entries) if line))


def _dump(header: str, items: list[dict[str, Any]]) -> str:
    """The header comment, then ``version`` and ``nlu: items`` as YAML (PyYAML; nothing is pasted as text)."""
    body = yaml.dump({"version": _Quoted("3.1"), "nlu": items}, Dumper=_Dumper, sort_keys=False,
                     allow_unicode=True, default_flow_style=False, width=10_000)
    return header + body


if __name__ == "__main__":
    sys.exit(main())
