#!/usr/bin/env bash
# Install a Debian package a slow test drives, unless its program is already there. Needs root (as in
# CI) or sudo. Used by `make browser` and `make redis` (hence by `make test`):
#   scripts/install-debian.sh chromium       # tests/test_widget_browser.py: playwright (from the lock)
#                                            # drives it, never its own browser download
#   scripts/install-debian.sh redis-server   # tests/test_scale_out.py: a throwaway Redis lock store
#   scripts/install-debian.sh --font zh fonts-wqy-microhei   # tests/test_widget_browser.py: Chinese
#                                            # glyphs (skipped when fontconfig has a font for zh)
#   scripts/install-debian.sh '/usr/lib/postgresql/*/bin/pg_ctl' postgresql   # tests/postgres_server.py:
#                                            # throwaway PostgreSQL servers (a PROGRAM with a / is a path
#                                            # pattern: Debian keeps pg_ctl off PATH)
#   scripts/install-debian.sh ip iproute2      # tests/hosts.py: network namespaces, the scale-out test's hosts
# Usage: scripts/install-debian.sh PROGRAM [PACKAGE]   (PACKAGE defaults to PROGRAM)
#        scripts/install-debian.sh --font LANGUAGE PACKAGE
set -euo pipefail
usage="usage: scripts/install-debian.sh PROGRAM [PACKAGE] | --font LANGUAGE PACKAGE"
if [ "${1:-}" = "--font" ]; then
  language=${2:?$usage}
  package=${3:?$usage}
  if command -v fc-list >/dev/null && fc-list ":lang=$language" | grep -q .; then
    echo "a font for $language already installed: $(fc-list ":lang=$language" family | head -1)"
    exit 0
  fi
  program="a font for $language"
else
  program=${1:?$usage}
  package=${2:-$program}
  if [[ "$program" == */* ]]; then
    found=$(compgen -G "$program" | head -1 || true)
  else
    found=$(command -v "$program" || true)
  fi
  if [ -n "$found" ]; then
    echo "$program already installed: $found"
    exit 0
  fi
fi
SUDO=
[ "$(id -u)" = 0 ] || SUDO=sudo
echo "installing Debian's $package ..."
$SUDO apt-get update -qq
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$package" >/dev/null
echo "installed $package ($program)"
