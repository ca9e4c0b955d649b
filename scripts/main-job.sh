#!/usr/bin/env bash
# The main job, end to end, on a fresh Debian machine:
#   install -> start Docker -> build the local images (no registry here) -> build the
#   example requirements into wheels -> test them in a clean runtime container ->
#   start the embedded hub -> publish to the branch's label -> pip install from it.
# Environment knobs: WHEELHUB_IMAGE (build image), MAIN_JOB_HUB_PORT (default 8080),
# MAIN_JOB_HUB_ROOT (default .wheelhub/hub), MAIN_JOB_OWNER (default demo).
set -euo pipefail
cd "$(dirname "$0")/.."
log() { printf '\n== %s\n' "$*" >&2; }

log "setting up (Debian packages, Docker, .venv, local images)"
scripts/install-system-deps.sh
scripts/ensure-docker.sh
scripts/setup-dev.sh
if [ -z "${WHEELHUB_IMAGE:-}" ]; then
    scripts/build-test-images.sh
    export WHEELHUB_IMAGE=wheelhub-local/builder:bookworm
    export WHEELHUB_RUNTIME_IMAGE="${WHEELHUB_RUNTIME_IMAGE:-wheelhub-local/runtime:bookworm}"
fi
export WHEELHUB_NETWORK="${WHEELHUB_NETWORK:-host}"   # no bridge networking on this host
[ -f /etc/ssl/certs/ca-certificates.crt ] && export WHEELHUB_CA_BUNDLE="${WHEELHUB_CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt}"
wheelhub=.venv/bin/wheelhub
port="${MAIN_JOB_HUB_PORT:-8080}"
root="${MAIN_JOB_HUB_ROOT:-.wheelhub/hub}"
owner="${MAIN_JOB_OWNER:-demo}"
hub="http://127.0.0.1:$port"
if [ -z "${REQUESTS_CA_BUNDLE:-}" ] && [ -f /etc/ssl/certs/ca-certificates.crt ]; then
    export REQUESTS_CA_BUNDLE=/etc/ssl/certs/ca-certificates.crt
fi

log "starting the hub at $hub (data in $root)"
mkdir -p "$root"
if ! curl -fsS "$hub/_health" >/dev/null 2>&1; then
    nohup "$wheelhub" serve --root "$root" --host 127.0.0.1 --port "$port" >"$root/serve.log" 2>&1 &
    echo $! >"$root/serve.pid"
    for _ in $(seq 1 50); do curl -fsS "$hub/_health" >/dev/null 2>&1 && break; sleep 0.2; done
fi
WHEELHUB_TOKEN="$("$wheelhub" token create --root "$root" --owner "$owner" --scope upload \
    --description "main-job $(date -u +%FT%TZ)" | tail -n 1)"
export WHEELHUB_TOKEN
# One index URL: names the owner never published come from PyPI through the hub (cached,
# hash-checked); names it did publish never do (no dependency confusion).
upstream="${MAIN_JOB_UPSTREAM-https://pypi.org/simple/}"
if [ -n "$upstream" ]; then
    "$wheelhub" owner upstream --root "$root" "$owner" "$upstream" >/dev/null
fi

log "wheelhub ci: build -> test -> publish to the branch's label"
status=0
"$wheelhub" ci --to "$hub/$owner" || status=$?
label="$("$wheelhub" label-for 2>/dev/null | tail -n 1)"
index="$hub/$owner/label/$label/simple/"

log "checking the published label with pip in a clean venv"
venv="$(mktemp -d)/venv"
python3 -m venv "$venv"
# Only our hub as the index, so what installs is what was published.
PIP_CONFIG_FILE=/dev/null PIP_FIND_LINKS= "$venv/bin/pip" install -q --no-cache-dir \
    --index-url "$index" PyYAML==6.0.2 MarkupSafe==3.0.2 six==1.17.0
"$venv/bin/python" -c "import yaml, markupsafe, six; assert yaml.__with_libyaml__; print('imported yaml (libyaml), markupsafe, six from the hub')"
rm -rf "$(dirname "$venv")"

cat <<TXT

The hub is running (pid $(cat "$root/serve.pid" 2>/dev/null || echo '?'), stop it with: kill \$(cat $root/serve.pid)).
Install from the '$label' label with:

TXT
if [ -n "$upstream" ]; then
    echo "    pip install --index-url $index PyYAML"
else
    echo "    pip install --extra-index-url $index PyYAML"
    echo "(warning: --extra-index-url lets PyPI shadow your names; set an upstream with 'wheelhub owner upstream' to use --index-url alone)"
fi
exit "$status"
