"""A bounded property-based fuzz of the upload form and archive against a real hub:
whatever arrives, the answer is never 5xx, and a refused upload changes nothing."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.dists import make_wheel
from tests.support.hub import HubProcess, http, multipart, upload_form
from wheelhub.server import create_token

CASES = 500


@pytest.fixture(scope="module")
def fuzz_wheel(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    return make_wheel(tmp_path_factory.mktemp("fuzz"), "fuzz-pkg", "1.0").read_bytes()


@pytest.fixture(scope="module")
def fuzz_token(hub: HubProcess) -> str:
    return create_token(hub.root, owner="fuzz", scope="upload")


def _mutate(data: bytes, flips: list[tuple[int, int]], cut: int | None) -> bytes:
    out = bytearray(data)
    for position, value in flips if out else []:
        out[position % len(out)] ^= value or 1
    return bytes(out[:cut] if cut is not None else out)


def _zip(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


names = st.text(st.characters(codec="utf-8", exclude_characters='"\r\n'), max_size=40)
filenames = st.one_of(
    st.just("fuzz_pkg-1.0-py3-none-any.whl"),
    st.sampled_from(["Fuzz.Pkg-1.0-py3-none-any.whl", "fuzz_pkg-1.0.tar.gz", "fuzz-pkg-1.0.zip",
                     "fuzz_pkg-1.0-1-py3-none-any.whl", "x-1.0-py3-none-any.whl", ".whl", ""]),
    names.map(lambda s: s + ".whl"), names)
archives = st.one_of(
    st.builds(_mutate, st.just(b""), st.just([]), st.none()),  # replaced by the real wheel
    st.binary(max_size=2048),
    st.dictionaries(st.sampled_from(["fuzz_pkg-1.0.dist-info/METADATA",
                                     "fuzz_pkg-1.0.dist-info/WHEEL", "a/b/c", "../x",
                                     "other-1.0.dist-info/METADATA", "PKG-INFO"]),
                    st.binary(max_size=256), max_size=4).map(_zip))


@settings(max_examples=CASES, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(filename=filenames, archive=archives,
       flips=st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 255)), max_size=3),
       cut=st.one_of(st.none(), st.integers(0, 4000)),
       fields=st.dictionaries(st.sampled_from([":action", "name", "version", "sha256_digest",
                                               "md5_digest", "filetype", "protocol_version"]),
                              names, max_size=3),
       mangle=st.sampled_from(["", "boundary", "truncate", "content-type"]))
def test_fuzzed_uploads_never_5xx_and_refusals_change_nothing(
        hub: HubProcess, fuzz_token: str, fuzz_wheel: bytes, filename: str, archive: bytes,
        flips: list[tuple[int, int]], cut: int | None, fields: dict[str, str],
        mangle: str) -> None:
    content = _mutate(archive or fuzz_wheel, flips, cut)
    form = upload_form(Path("fuzz_pkg-1.0-py3-none-any.whl"), content)
    form.update(fields)
    body, content_type = multipart(form, filename, content)
    if mangle == "boundary":
        content_type = content_type[:-3]
    elif mangle == "truncate":
        body = body[:len(body) // 2]
    elif mangle == "content-type":
        content_type = "application/x-www-form-urlencoded"
    before = sorted(p.name for p in (hub.root / "blobs").glob("*/*"))
    reply = http(hub.upload_url("fuzz", "fuzz"), method="POST", data=body,
                 headers={"Content-Type": content_type}, token=fuzz_token)
    assert reply.status < 500, (reply.status, reply.text)
    assert not list((hub.root / "tmp").iterdir())
    if reply.status != 200:
        assert sorted(p.name for p in (hub.root / "blobs").glob("*/*")) == before
