#!/usr/bin/env bash
# Installs what the HTML reports' browser test needs (next-cli's report_cli, which opens
# the reports of `next report` in headless Chromium), and does nothing when it is already
# there: Chromium, from the distribution's package (Debian: `chromium`), when no
# `chromium`, `chromium-browser` or `google-chrome` is on PATH. Needs root for apt-get;
# the test runs it with --no-sandbox, as root needs.
set -euo pipefail

for browser in chromium chromium-browser google-chrome; do
    if command -v "$browser" >/dev/null 2>&1; then
        echo "== Chromium ready: $(command -v "$browser")"
        exit 0
    fi
done
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends chromium >/dev/null
command -v chromium >/dev/null
echo "== Chromium ready: $(command -v chromium)"
