#!/usr/bin/env bash
# What the tests need from Debian, installed only when it is missing: Chromium for the browser tests
# (tests/test_browser.py; Playwright drives it, never `playwright install`, which downloads a build of
# its own) and PostgreSQL for the class-room tests (tests/test_rooms.py starts its own server).
# Where they cannot be installed (no apt-get, no root and no sudo), it says so and those tests are
# skipped; under CI (CI=true) that is a failure instead, because CI must run them.
set -euo pipefail
chromium="${CHROMIUM:-/usr/bin/chromium}"
needed=()
[ -x "$chromium" ] || needed+=(chromium chromium-driver)
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null || needed+=(postgresql)
[ "${#needed[@]}" -eq 0 ] && exit 0

cannot() {
    if [ -n "${CI:-}" ]; then
        echo "install-system: $1; CI needs ${needed[*]} for the browser and class-room tests" >&2
        exit 1
    fi
    echo "install-system: $1; the tests that need ${needed[*]} will be skipped" >&2
    exit 0
}

command -v apt-get >/dev/null || cannot "no apt-get here to install Debian's packages"
if [ "$(id -u)" -eq 0 ]; then
    as_root=()
elif command -v sudo >/dev/null && { sudo -n true 2>/dev/null || [ -t 0 ]; }; then
    as_root=(sudo)  # asks for a password only when someone is at the terminal to type it
else
    cannot "installing ${needed[*]} needs root or sudo"
fi

echo "Installing Debian's ${needed[*]} for the tests (once)..."
log="$(mktemp)"
if ! "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive sh -c \
        "apt-get update -qq && apt-get install -y -qq ${needed[*]}" >"$log" 2>&1; then
    cat "$log" >&2
    cannot "apt-get could not install ${needed[*]}"
fi
rm -f "$log"
[ -x "$chromium" ] || cannot "chromium is installed but $chromium is not there (set CHROMIUM to its path)"
