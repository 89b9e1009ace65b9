#!/usr/bin/env bash
# Install Debian's redis-server for the scale-out test (tests/test_scale_out.py), which starts its own
# Redis on a free loopback port as the Rasa servers' lock store and stops it at the end. Skipped when
# redis-server is already there. Needs root (as in CI) or sudo.
set -euo pipefail
if command -v redis-server >/dev/null; then
  echo "redis-server already installed: $(command -v redis-server)"
  exit 0
fi
SUDO=
[ "$(id -u)" = 0 ] || SUDO=sudo
echo "installing Debian's redis-server for the scale-out test ..."
$SUDO apt-get update -qq
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null
echo "installed $(command -v redis-server)"
