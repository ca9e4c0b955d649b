"""A PEP 770 SBOM per repaired wheel: every library auditwheel grafted in, by file.

auditwheel (6.4+) writes its own ``auditwheel.cdx.json``, but only for libraries a
package manager owns, and names packages rather than files. Ours,
``<name>-<version>.dist-info/sboms/wheelhub.cdx.json`` (CycloneDX 1.6), names each
grafted file, its version, where it came from in the build image and, when ``dpkg``
or ``rpm`` there knows, the Debian/RPM package and its version. The wheel's RECORD
gains the file's hash, so installers still accept the wheel.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import re
import uuid
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import quote

from packaging.utils import parse_wheel_filename

SBOM_NAME = "wheelhub.cdx.json"
SPEC_VERSION = "1.6"
PROBE_TAG = "wheelhub-sbom"
# Run in the build container with the original library file names as arguments: prints
# one tab-separated line per library: tag, name, path, manager, package, version, distro.
PROBE_SCRIPT = r"""
distro=$(. /etc/os-release 2>/dev/null && echo "$ID")
dirs="$(echo "${LD_LIBRARY_PATH:-}" | tr ':' ' ') $(cat /etc/ld.so.conf.d/*.conf 2>/dev/null | grep '^/')"
dirs="$dirs /usr/local/lib64 /usr/local/lib /lib64 /usr/lib64 /lib /usr/lib /lib/*-linux-gnu /usr/lib/*-linux-gnu"
for name in "$@"; do
    path=""
    for d in $dirs; do
        if [ -e "$d/$name" ]; then path="$d/$name"; break; fi
    done
    manager=""; package=""; version=""
    if [ -n "$path" ] && command -v dpkg-query >/dev/null 2>&1; then
        for p in "$path" "$(readlink -f "$path")"; do
            package=$(dpkg-query -S "$p" 2>/dev/null | head -n1 | sed 's/: .*//')
            [ -n "$package" ] && break
        done
        if [ -n "$package" ]; then
            manager=deb
            version=$(dpkg-query -W -f='${Version}' "$package" 2>/dev/null)
        fi
    elif [ -n "$path" ] && command -v rpm >/dev/null 2>&1; then
        line=$(rpm -qf --qf '%{NAME}\t%{VERSION}-%{RELEASE}\n' "$path" 2>/dev/null | head -n1)
        case "$line" in
            *"not owned"*|"") ;;
            *) manager=rpm; package=${line%%	*}; version=${line#*	} ;;
        esac
    fi
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "TAG" "$name" "$path" "$manager" "$package" "$version" "$distro"
done
""".replace("TAG", PROBE_TAG)


@dataclass(frozen=True, kw_only=True, slots=True)
class Library:
    """One grafted library: its name in the wheel and what the build image knows of it."""

    grafted: str  # the file in <pkg>.libs/ (auditwheel adds a hash to the name)
    name: str  # the file it was copied from
    path: str = ""  # where that file was in the build image ('' if not found again)
    manager: str = ""  # "deb" or "rpm" when a package manager owns the file
    package: str = ""  # e.g. "libyaml-0-2:amd64"
    package_version: str = ""
    distro: str = ""  # os-release ID of the build image

    @property
    def version(self) -> str:
        """The library's own version, from its file name (``libyaml-0.so.2.0.9`` → 2.0.9)."""
        match = re.search(r"\.so\.([0-9][0-9.]*)$", self.name)
        return match[1] if match else self.package_version

    @property
    def purl(self) -> str:
        if not self.manager or not self.package:
            return ""
        name, _, arch = self.package.partition(":")
        qualifiers = f"?arch={quote(arch)}" if arch else ""
        namespace = quote(self.distro or ("debian" if self.manager == "deb" else "redhat"))
        return f"pkg:{self.manager}/{namespace}/{quote(name)}@{quote(self.package_version)}{qualifiers}"

    def to_json(self) -> dict[str, str]:
        return {"file": self.grafted, "name": self.name, "version": self.version,
                "path": self.path, "manager": self.manager, "package": self.package,
                "package_version": self.package_version, "purl": self.purl}


def original_name(grafted: str) -> str:
    """The file auditwheel copied: it renames ``base.ext`` to ``base-<8 hex>.ext``."""
    base, dot, ext = grafted.partition(".")
    if re.search(r"-[0-9a-f]{8}$", base):
        base = base[:-9]
    return base + dot + ext


def vendored_in(names: Iterable[str]) -> tuple[str, ...]:
    """Shared libraries auditwheel grafted in (``<pkg>.libs/*.so*``) among archive names."""
    paths = [PurePosixPath(n) for n in names]
    return tuple(sorted(p.name for p in paths
                        if len(p.parts) == 2 and p.parts[0].endswith(".libs") and ".so" in p.name))


def parse_probe(lines: Iterable[str], grafted: Sequence[str]) -> tuple[Library, ...]:
    """Libraries for *grafted* files from :data:`PROBE_SCRIPT` output (unknown ones kept bare)."""
    found: dict[str, list[str]] = {}
    for line in lines:
        fields = line.split("\t")
        if len(fields) == 7 and fields[0] == PROBE_TAG:
            found[fields[1]] = fields[2:]
    libraries = []
    for file in grafted:
        name = original_name(file)
        path, manager, package, version, distro = found.get(name, ["", "", "", "", ""])
        libraries.append(Library(grafted=file, name=name, path=path, manager=manager,
                                 package=package, package_version=version, distro=distro))
    return tuple(libraries)


def cyclonedx(wheel_filename: str, libraries: Sequence[Library]) -> dict[str, Any]:
    """The CycloneDX 1.6 document: the wheel, and each grafted library as a component."""
    name, version, _build, _tags = parse_wheel_filename(wheel_filename)
    wheel_ref = (f"pkg:pypi/{quote(name, safe='')}@{quote(str(version), safe='')}"
                 f"?file_name={quote(wheel_filename, safe='')}")
    components = []
    for library in libraries:
        component: dict[str, Any] = {
            "type": "library", "bom-ref": f"{wheel_ref}#{library.grafted}",
            "name": library.name, "version": library.version or "unknown",
            "description": f"grafted into the wheel as {library.grafted} by auditwheel repair",
            "properties": [{"name": f"wheelhub:{key}", "value": value}
                           for key, value in library.to_json().items() if value],
        }
        if library.purl:
            component["purl"] = library.purl
        components.append(component)
    serial = uuid.uuid5(uuid.NAMESPACE_URL, wheel_ref + json.dumps(
        [lib.to_json() for lib in libraries], sort_keys=True))
    return {
        "$schema": f"http://cyclonedx.org/schema/bom-{SPEC_VERSION}.schema.json",
        "bomFormat": "CycloneDX", "specVersion": SPEC_VERSION,
        "serialNumber": f"urn:uuid:{serial}", "version": 1,
        "metadata": {
            "component": {"type": "library", "bom-ref": wheel_ref, "name": name,
                          "version": str(version), "purl": wheel_ref},
            "tools": {"components": [{"type": "application", "name": "wheelhub"}]},
        },
        "components": components,
        "dependencies": [{"ref": wheel_ref, "dependsOn": [c["bom-ref"] for c in components]},
                         *({"ref": c["bom-ref"]} for c in components)],
    }


def _record_hash(data: bytes) -> str:
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def with_sbom(wheel: bytes, document: dict[str, Any], name: str = SBOM_NAME) -> bytes:
    """The wheel with *document* at ``.dist-info/sboms/<name>`` and its RECORD line added."""
    source = zipfile.ZipFile(io.BytesIO(wheel))
    record_name = next(n for n in source.namelist()
                       if n.count("/") == 1 and n.endswith(".dist-info/RECORD"))
    target_name = f"{record_name.rsplit('/', 1)[0]}/sboms/{name}"
    data = (json.dumps(document, indent=2, sort_keys=True) + "\n").encode()
    record = [line for line in source.read(record_name).decode().splitlines()
              if line and not line.startswith(target_name + ",")]
    record.insert(len(record) - 1 if record and record[-1].startswith(record_name + ",")
                  else len(record), f"{target_name},{_record_hash(data)},{len(data)}")
    out = io.BytesIO()
    with source, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as result:
        for info in source.infolist():
            if info.filename in {record_name, target_name}:
                continue
            result.writestr(info, source.read(info), compress_type=info.compress_type)
        info = zipfile.ZipInfo(target_name, date_time=(1980, 1, 1, 0, 0, 0))
        info.external_attr = 0o644 << 16
        result.writestr(info, data, compress_type=zipfile.ZIP_DEFLATED)
        record_info = source.getinfo(record_name)
        result.writestr(record_info, ("\n".join(record) + "\n").encode(),
                        compress_type=record_info.compress_type)
    return out.getvalue()


def read_sboms(path: Path) -> dict[str, list[dict[str, Any]]]:
    """Components per SBOM file (``wheelhub.cdx.json``, ``auditwheel.cdx.json``) in a wheel."""
    found: dict[str, list[dict[str, Any]]] = {}
    try:
        with zipfile.ZipFile(path) as archive:
            for member in archive.namelist():
                parts = PurePosixPath(member).parts
                if len(parts) == 3 and parts[0].endswith(".dist-info") and parts[1] == "sboms":
                    try:
                        document = json.loads(archive.read(member))
                    except ValueError:
                        continue
                    found[parts[2]] = list(document.get("components") or [])
    except (OSError, zipfile.BadZipFile):
        return {}
    return found
