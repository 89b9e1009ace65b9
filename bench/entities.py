"""Brand and type entities on an imported catalog as on Beauty (issue 16, item 4).

For each catalog, the NLU model the assistant would run for it, and two messages per brand:

1. The catalog is imported into a temporary folder with the project's importer
   (``recommender.import_catalog``): the shipped Beauty catalog as set-up imports it (products only: the
   lookups read no histories), the test catalogs of other shops (tests/fixtures/catalogs/) with the column
   mappings of their README, or a catalog file already built by ``shopbot catalog build --db``.
2. Its NLU lookups are generated exactly as ``shopbot nlu-lookups`` does (``bot.nlu_lookups.generate``)
   into a copy of the project's Rasa inputs (config.yml, domain.yml, data/nlu with that lookups.yml,
   data/rules, data/stories), and ``rasa train nlu`` trains on it with the environment of every Rasa
   command (``bot.servers.rasa_env``; DIET's fixed seed is config.yml's). About 8-13 min a catalog on 2
   cores. For Beauty the set-up's model (models/shopbot.tar.gz) is used instead when it was trained from
   today's inputs and those lookups (its stamp, ``bot.build.training_inputs``); ``--retrain-beauty``
   trains it like the others.
3. The catalog's ``--brands`` (100) brands with most products (all of them when it has fewer), each
   asked as ``only <brand>`` and ``<brand> <type> under <price>``: the brand as the catalog spells it;
   <type> the brand's most common leaf category among those in the category lookup, else among all
   (on a catalog without categories, the product types read from its titles; ties: the larger
   category, then the name), said as a shopper says it: its name in lowercase, or for a name joining
   several ("Kettles & Toasters") the shortest part the lookups map to it ("kettles"); <price> the
   first round number (1, 1.5, 2, 2.5, 3, 4, 5, 6, 7, 8 x 10^k) above the brand's cheapest product of
   that type, written in the catalog's currency as shoppers write it ("$20", "₹1500", "400 euros":
   recommender/ranking/prices.py). A brand none of whose products has a type
   or a price is asked ``only <brand>`` alone.
4. Scored as tests/test_nlu_model.py does, through ``actions.vocabulary.Vocabulary.from_catalog``:
   intent right = refine_search for "only ...", search_products for the other, after the fallback of
   config.yml (the intent the model returns: nlu_fallback below its thresholds); brand right = the
   brand entities mapped by ``Vocabulary.brand`` are [the brand] (case aside: the filter ignores case);
   type right = the category entities mapped by ``Vocabulary.category`` are [the type] (a parent level,
   "shoes" for "running shoes", is wrong: the filter would be wider); price right = the price_max
   entities read by ``actions.prices.parse_price`` are [the amount], and no price_min.
5. And what the shopper gets: the brand and type filters the search action derives from that parse
   (``actions.search.requested_filters`` on a fresh conversation, then ``build_filters``: the entities,
   else the brand or type named in the words), counted right only with the right intent too.

Each brand's row also says whether its name is in the catalog's brand lookup (brands not worth
naming, under 3 products outside the catalog's 100 biggest, and everyday words are left out:
bot/nlu_lookups.py) and whether data/nlu annotates it as a
brand in some example (the training data names brands of other shops too: stores.yml).

Nothing is written outside a temporary folder (``--work DIR`` keeps it, and a model trained there is
used again while its inputs are the same) but the report (``--out``).

Usage: .venv/bin/python bench/entities.py [--catalog beauty --catalog fashion ...] [--brands 100]
       [--retrain-beauty] [--work DIR] [--out bench/results/entities.md]
"""

from __future__ import annotations

import hashlib
import logging
import math
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click
import yaml

from _common import load_average, machine_header, parse_all  # bench/_common.py, next to this file
from bot.servers import RASA, RASA_ENV, rasa_env
from recommender import config

logger = logging.getLogger("bench.entities")

FIXTURES = config.REPO_ROOT / "tests" / "fixtures" / "catalogs"
RASA_INPUTS = ("config.yml", "domain.yml", "data/nlu", "data/rules", "data/stories")
LOOKUPS = Path("data") / "nlu" / "lookups.yml"
MODEL_NAME = "nlu"
ONLY, SEARCH = "only", "search"
INTENTS = {ONLY: "refine_search", SEARCH: "search_products"}
ROUND_STEPS = (1, 1.5, 2, 2.5, 3, 4, 5, 6, 7, 8, 10)  # a budget is one of these x 10^k
# How shoppers write an amount in each currency (recommender/ranking/prices.py reads all of them).
WRITTEN_PRICE = {"USD": "${}", "GBP": "£{}", "INR": "₹{}", "EUR": "{} euros", "AED": "{} dirhams"}
_TAGGED_BRAND = re.compile(r"\[([^\]\n]+)\]\(brand\)")


# -- catalogs ---------------------------------------------------------------------------------------

def _import_beauty(target: Path) -> None:
    from recommender import import_catalog

    import_catalog(config.SHIPPED_PRODUCTS, target, mapping="recbole", currency="USD", progress=False)


def _import_fashion(target: Path) -> None:
    from recommender import PRESETS, import_catalog

    mapping = PRESETS["default"].with_columns(
        id="ProductID", title="ProductName", brand="ProductBrand", price="Price", description="Description",
    ).with_facets({"gender": "Gender", "colour": "PrimaryColor"})
    import_catalog(FIXTURES / "fashion_inr.csv", target, mapping=mapping, progress=False)


def _import_electronics(target: Path) -> None:
    from recommender import PRESETS, import_catalog

    mapping = PRESETS["default"].with_columns(id="sku").with_facets({"colour": "colour", "screen size": "screen_size"})
    import_catalog(FIXTURES / "electronics_eur.csv", target, mapping=mapping, progress=False)


# name -> (how it is imported, for the report; the import into a catalog file)
BUILT_IN: dict[str, tuple[str, Callable[[Path], None]]] = {
    "beauty": ("the shipped Amazon Beauty products, as set-up imports them (recbole columns, USD)", _import_beauty),
    "fashion": ("tests/fixtures/catalogs/fashion_inr.csv with its README's columns and facets (INR, no "
                "category column: types read from the titles)", _import_fashion),
    "electronics": ("tests/fixtures/catalogs/electronics_eur.csv with its README's columns and facets "
                    "(EUR, category paths)", _import_electronics),
}
DEFAULT_CATALOGS = ("beauty", "fashion", "electronics")


def build_catalog(name: str, folder: Path) -> tuple[str, Path, str]:
    """(name, catalog file, how it was made) for a built-in catalog's name or a built catalog file."""
    if name in BUILT_IN:
        how, build = BUILT_IN[name]
        target = folder / name / "catalog.db"
        target.parent.mkdir(parents=True, exist_ok=True)
        started = time.perf_counter()
        build(target)
        logger.info("%s: imported in %.1f s", name, time.perf_counter() - started)
        return name, target, how
    path = Path(name)
    if not path.is_file():
        raise click.BadParameter(f"{name!r} is neither one of {', '.join(BUILT_IN)} nor a catalog file",
                                 param_hint="--catalog")
    return path.stem, path, f"the catalog file {path}"


# -- the Rasa project and its model ------------------------------------------------------------------

def make_project(lookups: str, folder: Path) -> Path:
    """A copy of the project's Rasa inputs in ``folder`` with ``lookups`` as data/nlu/lookups.yml."""
    folder.mkdir(parents=True, exist_ok=True)
    for item in RASA_INPUTS:
        source, target = config.REPO_ROOT / item, folder / item
        if source.is_dir():
            shutil.rmtree(target, ignore_errors=True)
            shutil.copytree(source, target)
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
    (folder / LOOKUPS).write_text(lookups, encoding="utf-8")
    return folder


def project_inputs(project: Path) -> str:
    """A hash of what a model of ``project`` is trained from: set-up's (Rasa's version, config, domain, data)
    and the sources of the project's own components, which live in the checkout, not in the copy."""
    from bot.build import training_inputs

    digest = hashlib.sha256(training_inputs(project).encode())
    for source in sorted((config.REPO_ROOT / "bot").glob("*.py")):
        digest.update(source.read_bytes())
    return digest.hexdigest()


def train_nlu(project: Path) -> Path:
    """``rasa train nlu`` in ``project`` (unless a model of the same inputs is there); the model file."""
    model = project / "models" / f"{MODEL_NAME}.tar.gz"
    stamp, inputs = model.with_suffix(".inputs"), project_inputs(project)
    if model.exists() and stamp.exists() and stamp.read_text() == inputs:
        logger.info("%s: kept the model trained from the same inputs", project.parent.name)
        return model
    args = [RASA, "train", "nlu", "--config", "config.yml", "--domain", "domain.yml", "--nlu", "data/nlu",
            "--out", "models", "--fixed-model-name", MODEL_NAME]
    log = project / "train.log"
    started = time.perf_counter()
    logger.info("%s: rasa train nlu (a few minutes; log in %s)", project.parent.name, log)
    with log.open("w", encoding="utf-8") as out:
        result = subprocess.run(args, cwd=project, env=rasa_env(), stdout=out, stderr=subprocess.STDOUT)
    if result.returncode != 0 or not model.exists():
        tail = "\n".join(log.read_text(encoding="utf-8", errors="replace").splitlines()[-20:])
        raise click.ClickException(f"rasa train nlu failed with exit code {result.returncode} in {project}:\n{tail}")
    stamp.write_text(inputs)
    logger.info("%s: trained in %.1f min", project.parent.name, (time.perf_counter() - started) / 60)
    return model


def shipped_model_problem(lookups: str) -> str | None:
    """Why models/shopbot.tar.gz is not Beauty's model of today's inputs, or None when it is."""
    from bot import build

    model, stamp = build.model_path(), build.model_path().with_suffix(".inputs")
    if not model.exists():
        return f"there is no {model}"
    if (config.REPO_ROOT / LOOKUPS).read_text(encoding="utf-8") != lookups:
        return f"{LOOKUPS} is not the shipped catalog's"
    if not stamp.exists() or stamp.read_text().split()[:1] != [build.training_inputs()]:
        return f"{model} was not trained from today's config, domain and data"
    return None


# -- what is asked ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Lookups:
    """What a lookups.yml holds: the canonical values (lowercase) its brand and category tables name,
    and every spelling it maps (lowercase spelling -> canonical)."""

    brands: frozenset[str]
    categories: frozenset[str]
    owners: dict[str, str]

    @classmethod
    def read(cls, text: str) -> Lookups:
        items = yaml.safe_load(text)["nlu"]
        owners = {form.lower(): item["synonym"] for item in items if "synonym" in item
                  for form in _entries(item["examples"])}
        tables = {item["lookup"]: _entries(item["examples"]) for item in items if "lookup" in item}

        def named(table: str) -> frozenset[str]:
            return frozenset(owners.get(form.lower(), form).lower() for form in tables.get(table, ()))

        return cls(named("brand"), named("category"), owners)

    def canonical(self, typed: str) -> str:
        return self.owners.get(typed.lower(), typed).lower()

    def typed(self, category: str) -> str:
        """A category in a shopper's words: its name in lowercase, or for a name joining several ("Kettles &
        Toasters") the shortest plural spelling of a part that the lookups map to it ("kettles")."""
        name = category.lower()
        forms = [form for form, owner in self.owners.items()
                 if owner.lower() == name and form.endswith("s") and not re.search(r"&|,| and ", form)]
        return min(forms, key=lambda f: (len(f), f)) if re.search(r"&|,", name) and forms else name


def _entries(examples: str) -> list[str]:
    return [line[2:].strip() for line in examples.splitlines() if line.startswith("- ")]


def brands_in_training_data(nlu_folder: Path, lookups: Lookups) -> set[str]:
    """The brands (lowercase canonical) annotated in an example of the training data (not the lookups)."""
    found = set()
    for path in sorted(nlu_folder.glob("*.yml")):
        if path.name != LOOKUPS.name:
            found.update(lookups.canonical(m.group(1).strip()) for m in _TAGGED_BRAND.finditer(path.read_text("utf-8")))
    return found


@dataclass(frozen=True)
class Probe:
    """One brand and what is asked about it."""

    brand: str
    products: int
    in_lookup: bool
    in_training: bool
    type: str | None = None  # the catalog's spelling of the type asked
    type_in_lookup: bool = False
    price: float | None = None  # the budget asked, in the catalog's currency
    messages: dict[str, str] = field(default_factory=dict)  # ONLY / SEARCH -> text


def round_budget(cheapest: float) -> float:
    """The first round number above ``cheapest`` (integers only below 10): 449 -> 500, 19.99 -> 20, 1495 -> 1500."""
    scale = 10.0 ** math.floor(math.log10(cheapest)) if cheapest >= 1 else 1.0
    for step in ROUND_STEPS:
        budget = step * scale
        if budget > cheapest and (budget >= 10 or budget == int(budget)):
            return budget
    raise AssertionError("unreachable: 10 x scale is above cheapest")


def written_price(amount: float, currency: str) -> str:
    """An amount as a shopper types it in ``currency``: "$20", "₹1500", "400 euros"."""
    return WRITTEN_PRICE.get(currency, "{} " + currency).format(f"{amount:g}")


def probes(catalog, n: int, lookups: Lookups, trained: set[str]) -> list[Probe]:
    """The messages about the catalog's ``n`` brands with most products."""
    top = [(brand, count) for brand, count in catalog.brands() if brand and brand.strip()][:n]
    wanted = {brand for brand, _ in top}
    leaf_sizes = dict(catalog.categories())
    types: dict[str, Counter[str]] = defaultdict(Counter)  # brand -> its priced products per leaf category
    cheapest: dict[tuple[str, str], float] = {}  # (brand, leaf category) -> its cheapest price
    for product in catalog.iter_products():
        if product.brand in wanted and product.category and product.price is not None and product.price > 0:
            types[product.brand][product.category] += 1
            key = (product.brand, product.category)
            cheapest[key] = min(product.price, cheapest.get(key, math.inf))
    currency = catalog.currency()
    found = []
    for brand, count in top:
        kind = budget = None
        messages = {ONLY: f"only {brand}"}
        if types[brand]:  # the lookup's categories first: the words the model is told are product types
            kind = min(types[brand].items(), key=lambda kv: (kv[0].lower() not in lookups.categories, -kv[1],
                                                              -leaf_sizes.get(kv[0], 0), kv[0]))[0]
            budget = round_budget(cheapest[brand, kind])
            messages[SEARCH] = f"{brand} {lookups.typed(kind)} under {written_price(budget, currency)}"
        found.append(Probe(brand, count, brand.lower() in lookups.brands, brand.lower() in trained, kind,
                           bool(kind) and kind.lower() in lookups.categories, budget, messages))
    return found


# -- scoring ------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Outcome:
    """One message, what the model made of it, and which parts are right (None: not asked)."""

    text: str
    intent: str
    brands: list[tuple[str, str | None]]  # (entity value, the catalog brand it names)
    types: list[tuple[str, str | None]]
    prices: list[tuple[str, float | None]]  # price_max (value, amount)
    price_min: list[str]
    intent_ok: bool
    brand_ok: bool
    type_ok: bool | None = None
    price_ok: bool | None = None
    brand_filter: str | None = None  # the search action's brand filter from this parse
    brand_filter_ok: bool = False  # ... and the right intent
    type_filter_ok: bool | None = None

    def wrong(self) -> list[str]:
        """What is wrong, in words."""
        shown = {"brand": self.brands, "type": self.types, "price": self.prices}
        parts = [] if self.intent_ok else [f"intent {self.intent}"]
        if self.intent_ok and not self.brand_filter_ok:
            parts.append(f"brand filter {self.brand_filter}")
        for name, ok in (("brand", self.brand_ok), ("type", self.type_ok), ("price", self.price_ok)):
            if ok is False:
                values = ", ".join(f"'{value}' -> {mapped}" for value, mapped in shown[name]) or "none"
                parts.append(f"{name} {values}" + (f", price_min {self.price_min}" if name == "price" and self.price_min
                                                   else ""))
        return parts


def _same(found: Iterable[str | None], wanted: str) -> bool:
    return [value.casefold() if value else None for value in found] == [wanted.casefold()]


def score(probe: Probe, kind: str, parse: dict[str, Any], vocabulary) -> Outcome:
    """How the parse of ``probe.messages[kind]`` compares with what was asked."""
    from actions.prices import parse_price

    entities = parse.get("entities") or []

    def values(name: str) -> list[str]:
        return [str(e["value"]) for e in entities if e["entity"] == name]

    brands = [(v, vocabulary.brand(v)) for v in values("brand")]
    filters = action_filters(probe.messages[kind], parse, vocabulary)
    intent_ok = parse["intent"]["name"] == INTENTS[kind]
    types = [(v, vocabulary.category(v)) for v in values("category")]
    prices = [(v, parse_price(v)) for v in values("price_max")]
    searching = kind == SEARCH
    return Outcome(
        text=probe.messages[kind], intent=parse["intent"]["name"], brands=brands, types=types, prices=prices,
        price_min=values("price_min"), intent_ok=intent_ok,
        brand_ok=_same((b for _, b in brands), probe.brand),
        type_ok=_same((t for _, t in types), probe.type) if searching and probe.type else None,
        price_ok=([a for _, a in prices] == [probe.price] and not values("price_min")) if searching else None,
        brand_filter=filters.brand, brand_filter_ok=intent_ok and _same([filters.brand], probe.brand),
        type_filter_ok=intent_ok and _same([filters.category], probe.type) if searching and probe.type else None,
    )


def action_filters(text: str, parse: dict[str, Any], vocabulary) -> Any:
    """The filters the search action derives from a parse on a fresh conversation (no slots yet)."""
    from rasa_sdk import Tracker

    from actions.search import build_filters, requested_filters

    latest = {"text": text, "intent": parse["intent"], "entities": parse.get("entities") or []}
    tracker = Tracker("bench", {}, latest, [], False, None, {}, "action_listen")
    return build_filters(requested_filters(tracker, vocabulary, {}), vocabulary)


@dataclass
class Measured:
    """One catalog's results."""

    name: str
    how: str
    products: int
    brands: int  # the catalog's brands
    currency: str
    model: str  # how the model was had
    probes: list[Probe]
    outcomes: dict[str, dict[str, Outcome]]  # brand -> kind -> outcome

    def share(self, kind: str, part: str, keep: Callable[[Probe], bool] = lambda p: True) -> tuple[int, int]:
        """(right, asked) of one part ("intent_ok", ...) of one kind of message over the kept brands."""
        marks = [getattr(self.outcomes[p.brand][kind], part) for p in self.probes
                 if keep(p) and kind in self.outcomes[p.brand]]
        marks = [m for m in marks if m is not None]
        return sum(marks), len(marks)


@dataclass
class Prepared:
    """One catalog ready to measure: its lookups, the copy of the Rasa project holding them, the probes."""

    name: str
    how: str
    project: Path
    lookups: str
    probes: list[Probe]
    vocabulary: Any  # actions.vocabulary.Vocabulary
    products: int
    brands: int
    currency: str


def prepare(name: str, path: Path, how: str, work: Path, n_brands: int) -> Prepared:
    """The catalog's lookups (as `shopbot nlu-lookups` writes them), its project copy and what to ask."""
    from actions.vocabulary import Vocabulary
    from bot import nlu_lookups
    from recommender import Catalog

    with Catalog.open(path) as catalog:
        text = nlu_lookups.generate(catalog)
        lookups = Lookups.read(text)
        project = make_project(text, work / name / "project")
        chosen = probes(catalog, n_brands, lookups, brands_in_training_data(project / LOOKUPS.parent, lookups))
        return Prepared(name, how, project, text, chosen, Vocabulary.from_catalog(catalog), catalog.count_products(),
                        len(catalog.brands()), catalog.currency())


def measure(ready: Prepared, retrain_beauty: bool) -> Measured:
    """The catalog's model (trained, or the set-up's for Beauty) and its parse of every probe, scored."""
    from bot import build

    name = ready.name
    problem = shipped_model_problem(ready.lookups) if name == "beauty" and not retrain_beauty else "asked"
    if problem is None:
        model, made = build.model_path(), "the set-up's models/shopbot.tar.gz (trained from these lookups)"
        logger.info("%s: using %s", name, model)
    else:
        if name == "beauty" and not retrain_beauty:
            logger.warning("beauty: training a model: %s", problem)
        model, made = train_nlu(ready.project), "`rasa train nlu` on these lookups"
    texts = [(p, kind, text) for p in ready.probes for kind, text in p.messages.items()]
    started = time.perf_counter()
    parses = parse_all(model, [text for _, _, text in texts])
    logger.info("%s: %d messages parsed in %.0f s", name, len(texts), time.perf_counter() - started)
    outcomes: dict[str, dict[str, Outcome]] = defaultdict(dict)
    for (probe, kind, _), parse in zip(texts, parses):
        outcomes[probe.brand][kind] = score(probe, kind, parse, ready.vocabulary)
    return Measured(name, ready.how, ready.products, ready.brands, ready.currency, made, ready.probes,
                    dict(outcomes))


# -- report -------------------------------------------------------------------------------------------

def _pct(right_asked: tuple[int, int]) -> str:
    right, asked = right_asked
    return f"{right / asked:.0%} ({right}/{asked})" if asked else "-"


def _mark(ok: bool | None) -> str:
    return "-" if ok is None else "✓" if ok else "✗"


def asked(ready: Prepared) -> list[str]:
    """What --dry-run shows of a catalog: its lookups' sizes and every message, with the brand's marks."""
    lookups = Lookups.read(ready.lookups)
    lines = [f"{ready.name}: {ready.products:,} products, {ready.brands} brands, {ready.currency}; lookups: "
             f"{len(lookups.brands)} brands, {len(lookups.categories)} categories; {len(ready.probes)} brands asked"]
    for p in ready.probes:
        marks = ", ".join(mark for mark, on in (("in lookup", p.in_lookup), ("annotated", p.in_training)) if on)
        lines.append(f"  {p.brand} ({p.products}{', ' + marks if marks else ''}): "
                     + " | ".join(p.messages.values()) + (f"  [type {p.type}]" if p.type else ""))
    return lines


def _in_lookup(probe: Probe) -> bool:
    return probe.in_lookup


def catalog_table(m: Measured) -> list[str]:
    """One catalog's section: what was asked and, per brand, which parts came out right."""
    asked_search = sum(SEARCH in p.messages for p in m.probes)
    every = f" (all of the catalog's {m.brands})" if len(m.probes) == m.brands else ""
    alone = (f"; {len(m.probes) - asked_search} of them have no product with both a type and a price and are "
             "asked \"only <brand>\" alone") if asked_search < len(m.probes) else ""
    lines = [f"## {m.name}: {m.products:,} products, {m.brands:,} brands, {m.currency}", "",
             f"Imported from {m.how}; model: {m.model}. Measured: the {len(m.probes)} brands with most "
             f"products{every}{alone}.", ""]
    lines += ["| brand | products | in brand lookup | annotated in data/nlu | only: intent | brand "
              "| message | type in category lookup | intent | brand | type | price |",
              "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for p in m.probes:
        only, search = m.outcomes[p.brand][ONLY], m.outcomes[p.brand].get(SEARCH)
        row = [p.brand, str(p.products), "yes" if p.in_lookup else "no", "yes" if p.in_training else "no",
               _mark(only.intent_ok), _mark(only.brand_ok)]
        row += [search.text, "yes" if p.type_in_lookup else "no", _mark(search.intent_ok), _mark(search.brand_ok),
                _mark(search.type_ok), _mark(search.price_ok)] if search else ["-"] * 6
        lines.append("| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |")
    lines.append("")
    for label, keep in (("in the brand lookup", _in_lookup), ("not in it", lambda p: not p.in_lookup),
                        ("not annotated in data/nlu", lambda p: not p.in_training)):
        lines.append(f"- brands {label}: only: intent {_pct(m.share(ONLY, 'intent_ok', keep))}, brand "
                     f"{_pct(m.share(ONLY, 'brand_ok', keep))}; search: intent {_pct(m.share(SEARCH, 'intent_ok', keep))}, "
                     f"brand {_pct(m.share(SEARCH, 'brand_ok', keep))}, type {_pct(m.share(SEARCH, 'type_ok', keep))}, "
                     f"price {_pct(m.share(SEARCH, 'price_ok', keep))}")
    return lines + [""]


def summary_table(results: Sequence[Measured]) -> list[str]:
    lines = ["| catalog | brands measured (in brand lookup) | intent: only / search | brand entity: only / search "
             "| type entity | price entity | brand, lookup brands only: only / search "
             "| **brand filter the shopper gets: only / search** | **type filter** |",
             "|---|---|---|---|---|---|---|---|---|"]
    for m in results:
        lookup = sum(p.in_lookup for p in m.probes)
        lines.append(
            f"| {m.name} | {len(m.probes)} of {m.brands} ({lookup}) | {_pct(m.share(ONLY, 'intent_ok'))} / "
            f"{_pct(m.share(SEARCH, 'intent_ok'))} | {_pct(m.share(ONLY, 'brand_ok'))} / {_pct(m.share(SEARCH, 'brand_ok'))} "
            f"| {_pct(m.share(SEARCH, 'type_ok'))} | {_pct(m.share(SEARCH, 'price_ok'))} "
            f"| {_pct(m.share(ONLY, 'brand_ok', _in_lookup))} / {_pct(m.share(SEARCH, 'brand_ok', _in_lookup))} "
            f"| {_pct(m.share(ONLY, 'brand_filter_ok'))} / {_pct(m.share(SEARCH, 'brand_filter_ok'))} "
            f"| {_pct(m.share(SEARCH, 'type_filter_ok'))} |")
    return lines


def misses(m: Measured) -> list[str]:
    lines = []
    for p in m.probes:
        for kind, outcome in m.outcomes[p.brand].items():
            if wrong := outcome.wrong():
                lines.append(f"- \"{outcome.text}\": {'; '.join(wrong)}")
    return lines or ["- none"]


def report(command: str, seconds: float, results: Sequence[Measured]) -> str:
    """The Markdown result: the summary, then each catalog's table and misses."""
    lines = [machine_header("Brand and type entities on any catalog", f"load {load_average()}"), "",
             f"Command: `{command}` ({seconds / 60:.1f} min). Per catalog: its lookups generated as "
             "`shopbot nlu-lookups` does, an NLU model trained on them, then \"only <brand>\" and "
             "\"<brand> <type> under <price>\" for its biggest brands, scored as tests/test_nlu_model.py does "
             "(intent after the fallback; brand and category entities mapped through the catalog's "
             "Vocabulary; price_max read by actions/prices.py). How: the docstring of bench/entities.py.", "",
             "## Summary", ""]
    lines += summary_table(results) + [""]
    for m in results:
        lines += catalog_table(m)
    lines += ["## Misses", ""]
    for m in results:
        lines += [f"{m.name}:", ""] + misses(m) + [""]
    return "\n".join(lines)


@click.command(context_settings={"help_option_names": ["-h", "--help"]}, epilog="""Examples:

\b
  .venv/bin/python bench/entities.py                      # Beauty, fashion (INR), electronics (EUR)
  .venv/bin/python bench/entities.py --catalog fashion --brands 20 --work /tmp/entities
  .venv/bin/python bench/entities.py --catalog /tmp/shop.db --out /tmp/shop-entities.md
""")
@click.option("--catalog", "catalogs", multiple=True, default=DEFAULT_CATALOGS, show_default=True,
              help=f"a built-in catalog ({', '.join(BUILT_IN)}) or a catalog file built by "
                   "`shopbot catalog build --db FILE`; repeat for several")
@click.option("--brands", "n_brands", type=click.IntRange(min=1), default=100, show_default=True,
              help="the brands with most products to ask about, per catalog")
@click.option("--retrain-beauty", is_flag=True,
              help="train Beauty's NLU model too, instead of using the set-up's models/shopbot.tar.gz")
@click.option("--work", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="keep the imported catalogs, projects and models in this folder (a model is used again "
                   "while its inputs are the same); default: a temporary folder, removed after")
@click.option("--dry-run", is_flag=True, help="list what would be asked (and the lookups' sizes), train nothing")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=Path("bench/results/entities.md"),
              show_default=True)
def main(catalogs: tuple[str, ...], n_brands: int, retrain_beauty: bool, work: Path | None, dry_run: bool,
         out: Path) -> None:
    """Brand, type, price entities and intents of "only <brand>" and "<brand> <type> under <price>",
    per catalog, each with an NLU model trained on its own lookups (about 10 min a catalog)."""
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="bench-entities-") as tmp:
        folder = work or Path(tmp)
        results = []
        for name in catalogs:
            ready = prepare(*build_catalog(name, folder / "catalogs"), folder, n_brands)
            if dry_run:
                click.echo("\n".join(asked(ready)))
                continue
            results.append(measure(ready, retrain_beauty))
            click.echo("\n".join(catalog_table(results[-1])))
    if dry_run:
        return
    seconds = time.perf_counter() - start
    options = [f"--catalog {c}" for c in catalogs] if catalogs != DEFAULT_CATALOGS else []
    options += [f"--brands {n_brands}"] if n_brands != 100 else []
    options += ["--retrain-beauty"] if retrain_beauty else []
    options += [f"--work {work}"] if work else []
    command = " ".join([".venv/bin/python bench/entities.py", *options])
    text = report(command, seconds, results)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text, encoding="utf-8")
    click.echo("\n".join(summary_table(results)))
    click.echo(f"wrote {out} ({seconds / 60:.1f} min)")


if __name__ == "__main__":
    os.environ.update({k: v for k, v in RASA_ENV.items() if k not in os.environ})
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    # Loading a Rasa model sets up logging again: this script's own lines keep a handler of their own.
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(message)s", "%H:%M:%S"))
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    from rasa.utils.log_utils import configure_structlog

    configure_structlog(logging.WARNING)
    sys.exit(main())
