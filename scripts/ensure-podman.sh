#!/usr/bin/env bash
# Install (Debian) and start podman's Docker-compatible API service, and give podman the
# local test images (its image store is its own: `docker save | podman load`).
# The service socket is /run/podman/podman.sock (what `--engine podman` talks to).
# Usage: scripts/ensure-podman.sh [IMAGE ...]   (default: the local builder and runtime)
set -euo pipefail

log() { printf '[ensure-podman] %s\n' "$*" >&2; }
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
socket="${WHEELHUB_PODMAN_SOCKET:-/run/podman/podman.sock}"

if ! command -v podman >/dev/null 2>&1; then
    log "installing podman from Debian"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends podman >/dev/null
fi

if ! curl -sf --unix-socket "$socket" http://d/_ping >/dev/null 2>&1; then
    log "starting podman system service on $socket"
    $SUDO mkdir -p "$(dirname "$socket")"
    logfile="${PODMAN_LOG:-/var/log/wheelhub-podman.log}"
    $SUDO sh -c "nohup podman system service --time=0 'unix://$socket' >>'$logfile' 2>&1 &"
    for _ in $(seq 1 30); do
        curl -sf --unix-socket "$socket" http://d/_ping >/dev/null 2>&1 && break
        sleep 1
    done
    curl -sf --unix-socket "$socket" http://d/_ping >/dev/null 2>&1 \
        || { log "podman service did not answer; see $logfile"; exit 1; }
fi

images=("$@")
[ "${#images[@]}" -gt 0 ] || images=(wheelhub-local/builder:bookworm wheelhub-local/runtime:bookworm)
for image in "${images[@]}"; do
    want="$(docker image inspect -f '{{.Id}}' "$image" 2>/dev/null || true)"
    [ -n "$want" ] || { log "no docker image $image to give podman"; continue; }
    have="$(podman image inspect -f '{{.Id}}' "$image" 2>/dev/null || true)"
    if [ "sha256:$have" = "$want" ] || [ "$have" = "$want" ]; then
        log "podman has $image"
        continue
    fi
    log "loading $image into podman"
    docker save "$image" | podman load >/dev/null 2>&1 || { log "podman load of $image failed"; exit 1; }
done
