#!/usr/bin/env bash
# Debian packages the tests and the example job need. Idempotent: installs only what is missing.
set -euo pipefail
packages=(docker.io podman curl debootstrap nginx-light chromium chromium-driver tmux git ca-certificates graphviz postgresql)
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
    SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    echo "[install-system-deps] installing: ${missing[*]}" >&2
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
