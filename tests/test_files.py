"""recommender.files: a file is replaced whole, or left as it was."""

from __future__ import annotations

from pathlib import Path

import pytest

from recommender.files import replaced_whole


def test_a_finished_write_replaces_the_file_and_leaves_no_temporary_file(tmp_path: Path) -> None:
    target = tmp_path / "new" / "folder" / "vectors.npz"
    with replaced_whole(target) as tmp:
        assert tmp.parent == target.parent and not tmp.exists()
        tmp.write_text("new")
    assert target.read_text() == "new"
    assert sorted(p.name for p in target.parent.iterdir()) == ["vectors.npz"]


def test_a_failed_write_leaves_the_old_file_and_no_temporary_file(tmp_path: Path) -> None:
    target = tmp_path / "vectors.npz"
    target.write_text("old")
    with pytest.raises(RuntimeError, match="disk full"):
        with replaced_whole(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("disk full")
    assert target.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["vectors.npz"]
