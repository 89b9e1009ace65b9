#!/usr/bin/env bash
# Install Debian's chromium for the browser test (tests/test_widget_browser.py); playwright (from the
# lock) drives it, so playwright's own browser download is never needed. Skipped when chromium is
# already there. Needs root (as in CI) or sudo.
set -euo pipefail
if command -v chromium >/dev/null; then
  echo "chromium already installed: $(command -v chromium)"
  exit 0
fi
SUDO=
[ "$(id -u)" = 0 ] || SUDO=sudo
echo "installing Debian's chromium for the browser test ..."
$SUDO apt-get update -qq
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
echo "installed $(command -v chromium)"
