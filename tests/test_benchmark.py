"""`shopbot evaluate` and recommender.evaluate (runner, report, plots) on tiny synthetic data (issue 3)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from bot.cli import cli
from recommender.cf.metrics import ranking_metrics_at_k
from recommender.cf.sequences import from_histories, leave_one_out
from recommender.evaluate import runner as benchmark
from recommender.evaluate.report import write_report

METRICS = {"hr@5", "ndcg@5", "hr@10", "ndcg@10", "hr@20", "ndcg@20", "mrr", "auc", "n_shoppers"}
LISTS = {"coverage@5", "gini@5", "coverage@10", "gini@10", "coverage@20", "gini@20"}


def _checkerboard(n_shoppers: int = 60, n_items: int = 10, seed: int = 0) -> list[tuple[str, list[str]]]:
    """Even shoppers bought the even items, odd shoppers the odd ones, each in a random order."""
    rng = np.random.default_rng(seed)
    parity = [[f"p{i}" for i in range(start, n_items, 2)] for start in (0, 1)]
    return [(f"s{u}", list(rng.permutation(parity[u % 2]))) for u in range(n_shoppers)]


@pytest.fixture
def tiny_tsv(write_file) -> Path:
    rows = ["shopper_id\titem_id\ttimestamp"]
    for shopper, items in _checkerboard():
        rows += [f"{shopper}\t{item}\t2024-03-{day + 1:02d}" for day, item in enumerate(items)]
    return write_file("inter.tsv", "\n".join(rows) + "\n")


@pytest.fixture
def tiny_sequences(write_file) -> Path:
    return write_file("user_sequence.txt", "".join(f"{s} {' '.join(items)}\n" for s, items in _checkerboard()))


def _evaluate(tmp_path: Path, *args: str):
    return CliRunner().invoke(cli, ["evaluate", "--out-dir", str(tmp_path / "out"), "--threads", "1", *args])


def test_help_has_examples_formats_and_every_model() -> None:
    result = CliRunner().invoke(cli, ["evaluate", "-h"])
    assert result.exit_code == 0, result.output
    assert "Examples:" in result.output and "shopper_id<TAB>item_id<TAB>order" in result.output
    assert all(model in result.output for model in benchmark.MODELS)


def test_baselines_end_to_end_on_a_tsv(tmp_path: Path, tiny_tsv: Path) -> None:
    result = _evaluate(tmp_path, "--interactions", str(tiny_tsv), "--name", "t", "--no-grid",
                       "--models", "popularity,itemknn,als,bpr")
    assert result.exit_code == 0, result.output
    out = tmp_path / "out"
    assert {p.name for p in out.iterdir()} == {"t.json", "t.md", "t_metrics_at_k.png"}
    assert f"wrote {out / 't.json'}" in result.stdout
    report = json.loads((out / "t.json").read_text())
    assert set(report) == {"dataset", "protocol", "machine", "models", "peak_rss_mb"}   # no Beauty results
    assert report["dataset"] | {"file": ""} == {"name": "t", "file": "", "shoppers": 60, "items": 10,
                                                "interactions": 300}
    assert list(report["models"]) == ["popularity", "itemknn", "als", "bpr"]
    for r in report["models"].values():
        assert set(r["test"]) == METRICS | LISTS and set(r["valid"]) == METRICS
    assert report["models"]["als"]["params"] == {"factors": 64}
    assert report["models"]["itemknn"]["test"]["hr@5"] == 1.0
    table = (out / "t.md").read_text()
    assert "| model | HR@5 | NDCG@5 | HR@10 |" in table and "| als | " in table and "Published" not in table
    assert (out / "t_metrics_at_k.png").read_bytes()[:4] == b"\x89PNG"


def test_our_model_on_a_sequence_file_adds_the_training_plot(tmp_path: Path, tiny_sequences: Path) -> None:
    result = _evaluate(tmp_path, "--interactions", str(tiny_sequences), "--name", "seq",
                       "--models", "popularity,sasrec-text", "--no-text", "--set", "epochs=2", "--set", "n_embd=16")
    assert result.exit_code == 0, result.output
    out = tmp_path / "out"
    assert {p.name for p in out.iterdir()} == {"seq.json", "seq.md", "seq_metrics_at_k.png", "seq_training.png"}
    sasrec = json.loads((out / "seq.json").read_text())["models"]["sasrec-text"]
    assert sasrec["config"]["n_embd"] == 16 and sasrec["config"]["text_dim"] == 0
    assert sasrec["train_config"]["epochs"] == 2 and sasrec["log"]["epochs"] == [1, 2]
    assert "sasrec-text: epoch " in (out / "seq.md").read_text()


def test_an_ensemble_trains_its_members_with_their_own_seeds_and_averages_their_log_probabilities(
        tmp_path: Path, tiny_sequences: Path) -> None:
    result = _evaluate(tmp_path, "--interactions", str(tiny_sequences), "--name", "x3", "--models", "sasrec-text-x3",
                       "--no-text", "--set", "epochs=2", "--set", "n_embd=16")
    assert result.exit_code == 0, result.output
    x3 = json.loads((tmp_path / "out" / "x3.json").read_text())["models"]["sasrec-text-x3"]
    assert len(x3["member_logs"]) == 3 and x3["log"] == x3["member_logs"][0]
    assert x3["train_config"]["seed"] == 2 and set(x3["test"]) == METRICS | LISTS   # the last member's seed


def test_the_ensemble_score_is_the_mean_log_probability_of_its_members() -> None:
    class Fixed:
        def __init__(self, scores: list[float]) -> None:
            self.scores = np.array([scores])

        def score_histories(self, histories, shoppers=None) -> np.ndarray:
            return self.scores

    sharp, flat = Fixed([10.0, 0.0, 0.0]), Fixed([0.0, 0.2, 0.1])
    mean = benchmark.Ensemble([sharp, flat]).score_histories([np.array([0])])
    log_p = [f.scores - np.log(np.exp(f.scores).sum()) for f in (sharp, flat)]
    np.testing.assert_allclose(mean, (log_p[0] + log_p[1]) / 2)
    assert mean.argmax() == 0 and mean[0, 1] > mean[0, 2]                   # the flat one still breaks the tie


@pytest.mark.parametrize("text, line", [
    ("shopper_id\titem_id\torder\ns1\tp1\t1\ns1\tp2\n",
     "line 3: expected 3 columns, found 2"),
    ("user_id:token\titem_id:token\ttimestamp:float\nu1\tp1\tsoon\n",
     "line 2: timestamp:float 'soon' is neither a number nor an ISO 8601 date"),
])
def test_malformed_tsv_is_one_error_line_with_its_line_number(tmp_path: Path, write_file, text: str,
                                                              line: str) -> None:
    path = write_file("bad.tsv", text)
    result = _evaluate(tmp_path, "--interactions", str(path), "--models", "popularity")
    assert result.exit_code == 1
    assert result.output == f"Error: {path}, {line}\n"


def test_file_that_is_not_utf8_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.txt"
    path.write_bytes(b"s1 p1 p2 p3\ns2 p\xe9 p2\n")
    result = _evaluate(tmp_path, "--interactions", str(path), "--models", "popularity")
    assert result.exit_code == 1
    assert result.output.startswith(f"Error: {path}, line 2: not UTF-8 text;")
    assert result.output.count("\n") == 1


def test_repeated_shopper_names_the_file_and_lines(tmp_path: Path, write_file) -> None:
    path = write_file("twice.txt", "alice p1 p2\nbob p2 p3\nalice p3 p4\n")
    result = _evaluate(tmp_path, "--interactions", str(path), "--models", "popularity")
    assert result.exit_code == 1
    assert result.output == f"Error: {path}, line 3: shopper 'alice' is already on line 1; give each shopper one line\n"


def test_csv_is_not_silently_evaluated(tmp_path: Path, write_file) -> None:
    path = write_file("shop.csv", "shopper_id,item_id,order\ns1,p1,1\ns1,p2,2\n")
    result = _evaluate(tmp_path, "--interactions", str(path), "--models", "popularity")
    assert result.exit_code == 1
    assert result.output.startswith(f"Error: {path}: no shopper has two or more items")


def test_bad_models_and_overrides_are_usage_errors(tmp_path: Path, tiny_tsv: Path) -> None:
    result = _evaluate(tmp_path, "--interactions", str(tiny_tsv), "--models", "popularity,gru4rec")
    assert result.exit_code == 2 and "Invalid value for '--models': unknown models ['gru4rec']" in result.output
    result = _evaluate(tmp_path, "--interactions", str(tiny_tsv), "--set", "lr=fast")
    assert result.exit_code == 2 and "'lr=fast': lr takes a float, got 'fast'" in result.output
    result = _evaluate(tmp_path, "--interactions", str(tiny_tsv), "--set", "colour=red")
    assert result.exit_code == 2 and "'colour' is not a CFConfig or TrainConfig field" in result.output
    assert not (tmp_path / "out").exists()


def test_parse_overrides_types_values() -> None:
    assert benchmark.parse_overrides(["dropout=0.2", "lr=0.002", "epochs=3", "kind=mf"]) == (
        {"dropout": 0.2, "kind": "mf"}, {"lr": 0.002, "epochs": 3})


@pytest.mark.parametrize("kind", ["als", "bpr"])
def test_implicit_baselines_rank_the_held_out_item_of_the_right_parity_first(kind: str) -> None:
    split = leave_one_out(from_histories(_checkerboard()))
    fitted = benchmark.fit_implicit(kind, split, threads=1)
    test = ranking_metrics_at_k(fitted.test, split, (1, 5), stage="test")
    # after the 4 input items, one candidate of the shopper's parity is left among 6: a perfect model finds it
    assert test["hr@1"] >= 0.95 and test["auc"] >= 0.95
    assert fitted.info["library"] == "implicit 0.7.3"
    grid = benchmark.ALS_GRID if kind == "als" else benchmark.BPR_GRID
    assert len(fitted.info["search"]) == np.prod([len(v) for v in grid.values()])
    same_users = np.array_equal(fitted.valid.user_factors, fitted.test.user_factors)
    assert same_users == (kind == "bpr")        # ALS folds each stage's input in; BPR keeps its vectors


def test_grid_keeps_the_best_validation_setting(monkeypatch) -> None:
    monkeypatch.setattr(benchmark, "ALS_GRID", {"factors": [2, 32], "regularization": [0.1], "alpha": [10.0]})
    split = leave_one_out(from_histories(_checkerboard()))
    info = benchmark.fit_implicit("als", split, threads=1).info
    best = max(info["search"], key=lambda s: s["valid_ndcg@10"])
    assert len(info["search"]) == 2 and info["params"] == best["params"]


def test_write_report_with_a_training_log(tmp_path: Path) -> None:
    metrics = {m: 0.5 for m in METRICS | LISTS}
    log = {"epochs": [1, 2], "loss": [2.0, 1.0], "valid_ndcg10": [0.1, 0.2], "best_epoch": 2, "stopped": "2 epochs"}
    report = {"dataset": {"name": "r", "file": "x.tsv", "shoppers": 3, "items": 4, "interactions": 9},
              "protocol": benchmark.PROTOCOL, "published": benchmark.PUBLISHED,
              "models": {"mf": {"fit_seconds": 1.0, "log": log, "valid": metrics, "test": metrics},
                         "als": {"fit_seconds": 2.0, "params": {"factors": 64}, "valid": metrics, "test": metrics}}}
    paths = write_report(report, tmp_path)
    assert [p.name for p in paths] == ["r.json", "r.md", "r_metrics_at_k.png", "r_training.png"]
    table = (tmp_path / "r.md").read_text()
    assert "Chosen on validation NDCG@10: mf: epoch 2 of 2 (2 epochs); als: factors 64." in table
    assert "| SASRec (S3-Rec paper, BCE) | 0.0387 |" in table
