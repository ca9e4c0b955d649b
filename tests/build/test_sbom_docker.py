"""A real build of part of the fixture set (whfix-clib vendors libyaml; whfix-dependent
pulls in whfix-pure): the repaired wheel carries a PEP 770 SBOM that validates against
the CycloneDX schema and names each grafted library with its Debian package; the wheel
still installs, imports and passes `auditwheel show`; `wheelhub graph` and the report
show the dependency edge as built."""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import json
import shutil
import subprocess
import sys
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import BUILDER_IMAGE, LIBYAML_HOOK, RUNTIME_IMAGE, make_sdist
from tests.support.images import remove_prepared_since

pytestmark = [pytest.mark.docker, pytest.mark.slow]

WHEELHUB = str(Path(sys.executable).with_name("wheelhub"))
HOOK = LIBYAML_HOOK
REQUIREMENTS = "--find-links ./dists\nwhfix-clib==1.0\nwhfix-dependent==1.0\n"


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory, docker_client: Any) -> Iterator[Path]:
    started = time.time()
    project = tmp_path_factory.mktemp("sbom") / "project"
    (project / "dists").mkdir(parents=True)
    for name in ("whfix-clib", "whfix-pure", "whfix-dependent"):
        make_sdist(name, project / "dists")
    (project / "requirements.txt").write_text(REQUIREMENTS)
    (project / "build-setup.sh").write_text(HOOK)
    result = subprocess.run(
        [WHEELHUB, "build", "--image", BUILDER_IMAGE, "--network", "host", "--python", "cp311",
         "--ca-bundle", "/etc/ssl/certs/ca-certificates.crt"],
        cwd=project, capture_output=True, text=True, timeout=900, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    yield project / "wheelhouse"
    shutil.rmtree(project.parent, ignore_errors=True)
    remove_prepared_since(docker_client, started)



def clib_wheel(wheelhouse: Path) -> Path:
    [wheel] = wheelhouse.glob("whfix_clib-*.whl")
    return wheel


def test_sbom_validates_and_names_each_grafted_library(built: Path) -> None:
    from cyclonedx.schema import SchemaVersion
    from cyclonedx.validation.json import JsonStrictValidator

    with zipfile.ZipFile(clib_wheel(built)) as archive:
        grafted = sorted(n.split("/", 1)[1] for n in archive.namelist()
                         if n.startswith("whfix_clib.libs/") and not n.endswith("/"))
        text = archive.read("whfix_clib-1.0.dist-info/sboms/wheelhub.cdx.json").decode()
    assert any(name.startswith("libyaml") for name in grafted)
    error = JsonStrictValidator(SchemaVersion.V1_6).validate_str(text)
    assert error is None, error
    document = json.loads(text)
    assert document["metadata"]["component"]["name"] == "whfix-clib"
    by_file = {p["value"]: c for c in document["components"] for p in c["properties"]
               if p["name"] == "wheelhub:file"}
    assert sorted(by_file) == grafted
    libyaml = next(c for f, c in by_file.items() if f.startswith("libyaml"))
    properties = {p["name"]: p["value"] for p in libyaml["properties"]}
    assert libyaml["name"].startswith("libyaml-0.so.") and libyaml["version"].startswith("2.")
    assert properties["wheelhub:package"].startswith("libyaml-0-2")  # from dpkg -S
    assert libyaml["purl"].startswith("pkg:deb/debian/libyaml-0-2@0.2.")


def test_record_still_matches_and_the_wheel_installs(built: Path, docker_client: Any) -> None:
    wheel = clib_wheel(built)
    with zipfile.ZipFile(wheel) as archive:
        rows = list(csv.reader(io.StringIO(
            archive.read("whfix_clib-1.0.dist-info/RECORD").decode())))
        listed = {row[0] for row in rows}
        assert listed == {n for n in archive.namelist() if not n.endswith("/")}
        for name, digest, size in rows:
            if digest:
                data = archive.read(name)
                expected = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=")
                assert digest == "sha256=" + expected.decode() and int(size) == len(data), name
    show = docker_client.containers.run(
        BUILDER_IMAGE, ["auditwheel", "show", f"/wh/{wheel.name}"], remove=True,
        network_mode="none", volumes={str(built): {"bind": "/wh", "mode": "ro"}}).decode()
    assert "is consistent with the following platform tag" in show, show
    script = ("set -e; py=/opt/python/cp311-cp311/bin/python; $py -m venv /tmp/v; "
              "/tmp/v/bin/pip install -q --no-index --find-links /wh whfix-clib; "
              "/tmp/v/bin/python -c 'import whfix_clib; print(whfix_clib.libyaml_version())'")
    output = docker_client.containers.run(
        RUNTIME_IMAGE, ["bash", "-c", script], remove=True, network_mode="none",
        volumes={str(built): {"bind": "/wh", "mode": "ro"}}).decode()
    assert output.strip().splitlines()[-1].startswith("0.2.")


def test_report_and_graph_show_what_was_built(built: Path) -> None:
    report = json.loads((built / "report.json").read_text())
    [libs] = report["sboms"].values()
    assert any(lib["package"].startswith("libyaml-0-2") for lib in libs)
    assert {"from": "whfix-dependent", "to": "whfix-pure"} in report["graph"]["edges"]
    page = (built / "report.html").read_text()
    assert "<svg" in page and "id='sbom'" in page
    result = subprocess.run([WHEELHUB, "graph", "-w", str(built), "--format", "json"],
                            capture_output=True, text=True, timeout=60, check=True)
    graph = json.loads(result.stdout)
    kinds = {n["project"]: (n["kind"], n["requested"]) for n in graph["nodes"]}
    assert kinds == {"whfix-clib": ("compiled", True), "whfix-dependent": ("pure", True),
                     "whfix-pure": ("pure", False)}
    order = [p for step in graph["build_order"] for p in step]
    assert order.index("whfix-pure") < order.index("whfix-dependent")
