#!/usr/bin/env bash
# Debian's Chromium for the browser tests (Playwright never downloads a browser here). Idempotent.
set -euo pipefail
[ -x /usr/bin/chromium ] && exit 0
if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo -n"; fi
echo "install-chromium: installing chromium from Debian's packages" >&2
$SUDO apt-get update -qq >&2
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >&2
