"""Conversation tests: the trained model on the multi-turn stories of tests/stories (NLU + dialogue)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from bot.servers import rasa_env
from recommender import config

pytestmark = pytest.mark.slow

STORIES = config.REPO_ROOT / "tests" / "stories"


def test_the_stories_cover_every_intent_in_multi_turn_conversations():
    domain = yaml.safe_load((config.REPO_ROOT / "domain.yml").read_text())
    stories = [s for path in STORIES.glob("*.yml") for s in yaml.safe_load(path.read_text())["stories"]]
    turns = [[step["intent"] for step in s["steps"] if "intent" in step] for s in stories]
    assert len(stories) >= 30 and all(len(t) >= 2 for t in turns)
    assert {i for t in turns for i in t} == set(domain["intents"])


def test_rasa_test_core_predicts_every_story_without_an_error(tmp_path: Path, trained_model: Path):
    result = subprocess.run(
        [sys.executable, "-m", "bot.rasa_server", "test", "core", "--model", str(trained_model),
         "--stories", str(STORIES), "--fail-on-prediction-errors", "--out", str(tmp_path / "results")],
        cwd=config.REPO_ROOT, env=rasa_env(), capture_output=True, text=True, timeout=1800)
    failed = tmp_path / "results" / "failed_test_stories.yml"
    detail = failed.read_text() if failed.exists() else ""
    assert result.returncode == 0, (result.stdout[-3000:] + result.stderr[-3000:] + detail)
