#!/usr/bin/env bash
# Install a Debian package a slow test drives, unless its program is already there. Needs root (as in
# CI) or sudo. Used by `make browser` and `make redis` (hence by `make test`):
#   scripts/install-debian.sh chromium       # tests/test_widget_browser.py: playwright (from the lock)
#                                            # drives it, never its own browser download
#   scripts/install-debian.sh redis-server   # tests/test_scale_out.py: a throwaway Redis lock store
# Usage: scripts/install-debian.sh PROGRAM [PACKAGE]   (PACKAGE defaults to PROGRAM)
set -euo pipefail
program=${1:?usage: scripts/install-debian.sh PROGRAM [PACKAGE]}
package=${2:-$program}
if command -v "$program" >/dev/null; then
  echo "$program already installed: $(command -v "$program")"
  exit 0
fi
SUDO=
[ "$(id -u)" = 0 ] || SUDO=sudo
echo "installing Debian's $package ..."
$SUDO apt-get update -qq
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$package" >/dev/null
echo "installed $(command -v "$program")"
