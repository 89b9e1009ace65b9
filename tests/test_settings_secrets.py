"""Generated secrets are written whole, and an empty one is a clear error (issue 17, item 7).

A crash while var/secrets/<NAME> was being created used to leave it empty, and every channel then
refused everyone (an empty token matches nothing) with no word of why.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from click.testing import CliRunner

from bot import settings
from bot.cli import cli


@pytest.fixture
def secrets_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """var/secrets/ of a fresh cache folder, with no secret in the environment."""
    monkeypatch.setenv("SHOPBOT_CACHE", str(tmp_path))
    for name in settings.SECRETS:
        monkeypatch.delenv(name, raising=False)
    return tmp_path / "secrets"


def test_a_generated_secret_is_whole_owner_only_and_kept(secrets_dir: Path) -> None:
    value = settings.secret("SHOPBOT_ACTION_TOKEN")
    path = secrets_dir / "SHOPBOT_ACTION_TOKEN"
    assert len(value) >= 40 and path.read_text() == value
    assert stat.S_IMODE(path.stat().st_mode) == 0o600 and stat.S_IMODE(secrets_dir.stat().st_mode) == 0o700
    assert settings.secret("SHOPBOT_ACTION_TOKEN") == value
    assert os.listdir(secrets_dir) == ["SHOPBOT_ACTION_TOKEN"]                  # no temporary file left


@pytest.mark.parametrize("failing", ["secrets.token_urlsafe", "os.fsync"])
def test_a_start_that_fails_while_writing_leaves_no_secret_behind(secrets_dir: Path, monkeypatch, failing) -> None:
    # a crash (here, an error) before the secret is on disk: before, the file was created first and
    # stayed empty
    def crash(*args: object) -> None:
        raise OSError("No space left on device")

    module, name = failing.split(".")
    monkeypatch.setattr(getattr(settings, module), name, crash)
    with pytest.raises(OSError):
        settings.secret("SHOPBOT_JWT_KEY")
    assert not secrets_dir.exists() or os.listdir(secrets_dir) == []
    monkeypatch.undo()
    monkeypatch.setenv("SHOPBOT_CACHE", str(secrets_dir.parent))
    for secret in settings.SECRETS:
        monkeypatch.delenv(secret, raising=False)
    assert len(settings.secret("SHOPBOT_JWT_KEY")) >= 40                       # the next start makes one


@pytest.mark.parametrize("content", ["", "  \n\t\n"])
def test_an_empty_secret_file_is_one_line_naming_the_file_and_the_fix(secrets_dir: Path, content: str) -> None:
    secrets_dir.mkdir(mode=0o700)
    path = secrets_dir / "SHOPBOT_REST_TOKEN"
    path.write_text(content)
    with pytest.raises(settings.EmptySecretFile) as caught:
        settings.secret("SHOPBOT_REST_TOKEN")
    assert str(caught.value) == (f"The secret file {path} is empty: delete it (a new secret is generated at the "
                                 "next start) or set SHOPBOT_REST_TOKEN in the environment.")


def test_shopbot_serve_stops_at_an_empty_secret_file_with_that_line(secrets_dir: Path) -> None:
    secrets_dir.mkdir(mode=0o700)
    (secrets_dir / "SHOPBOT_ACTION_TOKEN").write_text("")
    result = CliRunner().invoke(cli, ["serve", "--port", "1", "--action-port", "1"])
    assert result.exit_code == 1, result.output
    assert result.stderr == (f"Error: The secret file {secrets_dir / 'SHOPBOT_ACTION_TOKEN'} is empty: delete it "
                             "(a new secret is generated at the next start) or set SHOPBOT_ACTION_TOKEN in the "
                             "environment.\n")


def test_an_api_token_starting_with_a_dash_reaches_rasa_whole(monkeypatch) -> None:
    """A generated token is URL-safe base64, so 1 in 64 starts with "-": Rasa's parser must not take it for
    an option (it did: "argument -t/--auth-token: expected one argument")."""
    from rasa.__main__ import create_argument_parser

    from bot.rasa_server import rasa_arguments

    monkeypatch.setenv("SHOPBOT_API_TOKEN", "-Xq3_token")
    parsed = create_argument_parser().parse_args(rasa_arguments(["run", "--enable-api"]))
    assert parsed.auth_token == "-Xq3_token" and parsed.enable_api
