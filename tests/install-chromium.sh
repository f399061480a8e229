#!/usr/bin/env bash
# Debian's Chromium for the browser tests (tests/test_browser.py), installed only when it is missing.
# Playwright drives this browser; never run `playwright install`, which downloads a build of its own.
# Where it cannot be installed (no apt-get, no root and no sudo), it says so and the browser tests
# are skipped; under CI (CI=true) that is a failure instead, because CI must run them.
set -euo pipefail
chromium="${CHROMIUM:-/usr/bin/chromium}"
[ -x "$chromium" ] && exit 0

cannot() {
    if [ -n "${CI:-}" ]; then
        echo "install-chromium: $1; CI needs Chromium for the browser tests" >&2
        exit 1
    fi
    echo "install-chromium: $1; the browser tests will be skipped" >&2
    exit 0
}

command -v apt-get >/dev/null || cannot "no apt-get here to install Debian's chromium package"
if [ "$(id -u)" -eq 0 ]; then
    as_root=()
elif command -v sudo >/dev/null && { sudo -n true 2>/dev/null || [ -t 0 ]; }; then
    as_root=(sudo)  # asks for a password only when someone is at the terminal to type it
else
    cannot "installing chromium needs root or sudo"
fi

echo "Installing Debian's chromium for the browser tests (once)..."
log="$(mktemp)"
if ! "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive sh -c \
        'apt-get update -qq && apt-get install -y -qq chromium chromium-driver' >"$log" 2>&1; then
    cat "$log" >&2
    cannot "apt-get could not install chromium"
fi
rm -f "$log"
[ -x "$chromium" ] || cannot "chromium is installed but $chromium is not there (set CHROMIUM to its path)"
