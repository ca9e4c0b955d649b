#!/usr/bin/env bash
# Install (Debian) and start the Docker engine if no daemon answers.
# Starts dockerd with the flags that work on hosts without bridge networking;
# images are per storage driver, so always start it with the same flags.
set -euo pipefail

log() { printf '[ensure-docker] %s\n' "$*" >&2; }
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"

if ! command -v dockerd >/dev/null 2>&1 || ! command -v debootstrap >/dev/null 2>&1; then
    log "installing docker.io and debootstrap from Debian"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq docker.io debootstrap >/dev/null
fi

if docker info >/dev/null 2>&1; then
    log "docker daemon already answers"
    exit 0
fi

log "starting dockerd (--iptables=false --bridge=none --storage-driver=overlay2)"
logfile="${DOCKERD_LOG:-/var/log/wheelhub-dockerd.log}"
$SUDO sh -c "nohup dockerd --iptables=false --bridge=none --storage-driver=overlay2 >>'$logfile' 2>&1 &"
for _ in $(seq 1 60); do
    if docker info >/dev/null 2>&1; then
        log "docker daemon is up"
        exit 0
    fi
    sleep 1
done
log "dockerd did not answer within 60s; see $logfile"
tail -n 20 "$logfile" >&2 || true
exit 1
