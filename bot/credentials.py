"""The input channels Rasa starts with: credentials.yml without the messaging apps not configured.

credentials.yml names each messaging app's secrets as environment variables (``${TELEGRAM_TOKEN}``),
and Rasa refuses to start when one of them is unset. `write_active` writes a copy that keeps REST,
socket.io and every messaging app whose variables are all set, and logs which apps are on (names of
channels and variables only, never their values).
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Mapping
from pathlib import Path

import yaml

from bot.settings import SECRETS
from recommender.config import REPO_ROOT

logger = logging.getLogger(__name__)

CREDENTIALS = REPO_ROOT / "credentials.yml"
ENV_VAR = re.compile(r"\$\{([^}]+)\}")
# Keys a channel works without: dropped from the copy when their variable is unset.
OPTIONAL = {("slack", "slack_channel")}


def channel_name(key: str) -> str:
    """The channel's short name for a credentials.yml key: "bot.channels.Slack" -> "slack"."""
    return key.rsplit(".", 1)[-1].lower()


def _variables(node: yaml.Node) -> list[str]:
    """The environment variables the scalars under ``node`` name, in order."""
    if isinstance(node, yaml.ScalarNode):
        return ENV_VAR.findall(node.value)
    if isinstance(node, yaml.MappingNode):
        return [v for key, value in node.value for n in (key, value) for v in _variables(n)]
    if isinstance(node, yaml.SequenceNode):
        return [v for item in node.value for v in _variables(item)]
    return []


def _unset(node: yaml.Node, environ: Mapping[str, str]) -> list[str]:
    """The variables named under ``node`` that are unset or empty in ``environ``."""
    return [name for name in _variables(node) if not environ.get(name)]


def _without_unset_optional(channel: str, config: yaml.Node, environ: Mapping[str, str]) -> yaml.Node:
    """``config`` without its optional keys whose variable is unset."""
    if isinstance(config, yaml.MappingNode):
        config.value = [(key, value) for key, value in config.value
                        if (channel_name(channel), key.value) not in OPTIONAL or not _unset(value, environ)]
    return config


def write_active(directory: Path, source: Path = CREDENTIALS, environ: Mapping[str, str] | None = None) -> Path:
    """Write ``directory/credentials.yml``: ``source`` without the channels whose variables are unset
    in ``environ`` (default: this process's environment; pass the Rasa server's own).

    The YAML is composed, not constructed, so the ``${VAR}`` values are copied as they are (Rasa
    expands them when it starts): no secret value is written or logged here.

    Returns:
        The path of the copy, for ``rasa run --credentials``.
    """
    environ = os.environ if environ is None else environ
    root = yaml.compose(source.read_text())
    kept, off = [], []
    for key, config in root.value:
        config = _without_unset_optional(key.value, config, environ)
        missing = _unset(config, environ)
        if missing:
            off.append(f"{channel_name(key.value)} (unset: {', '.join(missing)})")
        else:
            kept.append((key, config))
    root.value = kept
    on = [channel_name(key.value) for key, config in kept if set(_variables(config)) - set(SECRETS)]
    logger.info("messaging channels on: %s; off: %s", ", ".join(on) or "none", "; ".join(off) or "none")
    path = directory / "credentials.yml"
    path.write_text(yaml.serialize(root))
    return path
