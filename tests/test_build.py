"""bot.build: one set-up at a time per checkout; the Rasa model trained again only when what it is trained from
changed; a catalog already there kept."""

from __future__ import annotations

import fcntl
import shutil
import sqlite3
import subprocess
import threading
import time

import pytest

from bot import build
from recommender import config, import_catalog


def test_a_second_setup_waits_for_the_first(monkeypatch: pytest.MonkeyPatch) -> None:
    """While one set-up holds var/setup.lock, another does no step until it is released."""
    ran: list[float] = []
    monkeypatch.setattr(build, "_steps", lambda progress: iter(ran.append(time.monotonic()) or ()))
    lock_path = config.REPO_ROOT / "var" / "setup.lock"
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_path, "a") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        second = threading.Thread(target=lambda: list(build.setup(progress=False)))
        second.start()
        time.sleep(0.5)
        assert ran == [] and second.is_alive()
        released = time.monotonic()
        fcntl.flock(held, fcntl.LOCK_UN)
    second.join(timeout=10)
    assert not second.is_alive() and len(ran) == 1 and ran[0] >= released


@pytest.fixture
def project(tmp_path):
    """A copy of what a Rasa model is trained from: config, domain, training data, the bot package."""
    for name in ("config.yml", "domain.yml"):
        shutil.copy(config.REPO_ROOT / name, tmp_path / name)
    for folder in (*build.RASA_DATA, "bot"):
        shutil.copytree(config.REPO_ROOT / folder, tmp_path / folder, ignore=shutil.ignore_patterns("__pycache__"))
    return tmp_path


def test_the_training_inputs_change_with_the_data_and_the_components_only(project) -> None:
    first = build.training_inputs(project)
    assert build.training_inputs(project) == first
    (project / "README.md").write_text("not read by rasa train")
    assert build.training_inputs(project) == first
    rules = next((project / "data" / "rules").glob("*.yml"))
    rules.write_text(rules.read_text() + "\n")
    changed_data = build.training_inputs(project)
    assert changed_data != first
    component = project / "bot" / "lookup_entities.py"
    component.write_text(component.read_text() + "\n")
    assert build.training_inputs(project) not in (first, changed_data)


def test_the_model_is_trained_again_only_when_its_inputs_or_the_model_file_changed(tmp_path, monkeypatch) -> None:
    """`rasa train` (here a stand-in that writes the model file; the real one is the set-up's) runs
    when there is no stamp, when the inputs changed and when the model file was replaced since."""
    runs: list[list[str]] = []

    def rasa_train(args, **kwargs):
        runs.append(args)
        build.model_path().write_bytes(b"model %d" % len(runs))
        return subprocess.CompletedProcess(args, 0)

    inputs = ["a"]
    monkeypatch.setattr(build, "MODELS_DIR", tmp_path)
    monkeypatch.setattr(build.subprocess, "run", rasa_train)
    monkeypatch.setattr(build, "training_inputs", lambda: inputs[0])
    assert build.train_model().startswith("model") and len(runs) == 1
    assert build.train_model().startswith("kept") and len(runs) == 1
    inputs[0] = "b"
    assert build.train_model().startswith("model") and len(runs) == 2
    assert build.train_model().startswith("kept") and len(runs) == 2
    build.model_path().write_bytes(b"a model another rasa train wrote")
    assert build.train_model().startswith("model") and len(runs) == 3


def test_set_up_keeps_a_catalog_it_finds_and_names_one_built_by_an_older_version(tmp_path, monkeypatch) -> None:
    """A catalog already there may be a shop's own: set-up never replaces it, but says when its format is
    older than this version's, and how to build it again."""
    path = tmp_path / "catalog.db"
    (tmp_path / "p.csv").write_text("id,title,price\np1,Soap,2\n")
    import_catalog(tmp_path / "p.csv", path, progress=False)
    monkeypatch.setenv("SHOPBOT_CATALOG", str(path))
    assert build.ensure_catalog() == f"kept {path}"
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE meta SET value = '3' WHERE key = 'schema_version'")
    assert build.ensure_catalog().startswith(
        f"kept {path}, built by an older version (catalog format 3, now {build.SCHEMA_VERSION})")
    with sqlite3.connect(path) as conn:                               # kept: the shop's product is still there
        assert conn.execute("SELECT id FROM products").fetchall() == [("p1",)]


def test_set_up_embeds_the_shops_policy_file_or_says_there_is_none(tmp_path, monkeypatch) -> None:
    (tmp_path / "p.csv").write_text("id,title,price\np1,Soap,2\n")
    import_catalog(tmp_path / "p.csv", tmp_path / "catalog.db", progress=False)   # a shop's own catalog
    monkeypatch.setenv("SHOPBOT_CATALOG", str(tmp_path / "catalog.db"))
    monkeypatch.setenv("SHOPBOT_CACHE", str(tmp_path))
    monkeypatch.delenv("SHOPBOT_POLICIES", raising=False)
    monkeypatch.delenv("SHOPBOT_LANGUAGES", raising=False)                         # English and Chinese
    assert build.ensure_policies().startswith("no policy file (set SHOPBOT_POLICIES)")  # not the demo's
    (tmp_path / "ours.md").write_text("## Delivery\nThree days.\n\n## Returns\nWithin 15 days.\n")
    (tmp_path / "ours.zh.md").write_text("## 配送\n三天送达。\n\n## 退货\n15天内可退。\n")
    monkeypatch.setenv("SHOPBOT_POLICIES", str(tmp_path / "ours.md"))
    assert build.ensure_policies() == f"2 policy sections of {tmp_path / 'ours.md'}; translated: zh"
    assert len(list((tmp_path / "policies").glob("*.npy"))) == 3 + 2    # MiniLM's, USE's and e5's of ours.md,
                                                                        # USE's and e5's of ours.zh.md
