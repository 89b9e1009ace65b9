#!/usr/bin/env bash
# Create .venv and install requirements/lock.txt into it, exactly. Installing twice changes nothing:
# a stamp holding the lock's hash skips the install when the lock did not change.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3.11}
command -v "$PY" >/dev/null || PY=python3
UV_VERSION=0.13.9
stamp=.venv/.lock-sha256
want=$(sha256sum requirements/lock.txt | cut -d' ' -f1)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  echo "venv up to date with requirements/lock.txt"
  exit 0
fi
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install --quiet "uv==$UV_VERSION"
# uv does not read pip's configuration: hand it pip's find-links folder, where the CPU build of torch lies.
WHEELS=$(.venv/bin/pip config get global.find-links 2>/dev/null || true)
echo "installing $(grep -c '==' requirements/lock.txt) pinned packages into .venv ..."
.venv/bin/uv pip install --python .venv/bin/python --no-deps ${WHEELS:+--find-links "$WHEELS"} \
  -r requirements/lock.txt
# Make the project's packages importable from the venv (an editable install would need a newer
# `packaging` than rasa allows), and give it a `shopbot` command.
site=$(.venv/bin/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
echo "$PWD" > "$site/shopbot.pth"
printf '#!/bin/sh\nexec "%s/.venv/bin/python" -m bot.cli "$@"\n' "$PWD" > .venv/bin/shopbot
chmod +x .venv/bin/shopbot
echo "$want" > "$stamp"
echo "pip check (three deliberate conflicts expected, see requirements/lock.txt):"
.venv/bin/python -m pip check || true
