#!/bin/sh
# Install the headless browser the report test drives (tests/study/test_html_report.py), idempotently
# (`make install` / `make test` run this; instant when present): Debian's chromium + chromium-driver
# via apt when root and missing, otherwise print the command (the browser test then skips, naming it).
set -eu
missing=""
command -v chromium >/dev/null 2>&1 || missing="$missing chromium"
command -v chromedriver >/dev/null 2>&1 || missing="$missing chromium-driver"
[ -z "$missing" ] && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >/dev/null
else
    echo "report test: missing$missing; install with: sudo apt-get install -y$missing (the browser test skips without them)"
fi
