# Example setup hook: sourced once per build container, before any build.
# Installs the system libraries the example requirements link against, whatever the
# image's package manager, and exports flags every build in the container sees.
# Variables exported here apply to all builds; a failing command stops this Python.
set -e
if command -v dnf >/dev/null 2>&1; then
    dnf install -y -q libyaml-devel
elif command -v yum >/dev/null 2>&1; then
    yum install -y -q libyaml-devel
elif command -v apk >/dev/null 2>&1; then
    apk add --no-cache yaml-dev
elif command -v apt-get >/dev/null 2>&1; then
    if ! dpkg -s libyaml-dev >/dev/null 2>&1; then
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends libyaml-dev >/dev/null
    fi
fi
export CFLAGS="${CFLAGS:-} -O2"
