"""The owner and label web pages, rendered by Debian's headless chromium."""

from __future__ import annotations

import shutil
import struct
import subprocess
import zlib
from pathlib import Path

import pytest

from tests.support.dists import make_sdist, make_wheel
from tests.support.hub import HubProcess, upload

CHROMIUM = "/usr/bin/chromium"
pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(not Path(CHROMIUM).exists(),
                                 reason="needs chromium: run scripts/install-system-deps.sh")]


def chromium(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    profile = tmp_path / f"profile-{len(list(tmp_path.glob('profile-*')))}"
    profile.mkdir()
    command = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
               "--no-first-run", "--disable-background-networking", "--disable-component-update",
               "--disable-sync", "--hide-scrollbars", f"--user-data-dir={profile}", *args]
    try:
        return subprocess.run(command, capture_output=True, text=True, timeout=90, check=True)
    finally:
        shutil.rmtree(profile, ignore_errors=True)


def decode_png(data: bytes) -> tuple[int, int, list[bytes]]:
    """Width, height and unfiltered RGB(A) rows of an 8-bit non-interlaced PNG."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, width, height, channels = 8, b"", 0, 0, 0
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos:pos + 4])
        kind, body = data[pos + 4:pos + 8], data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            width, height, depth, color, _c, _f, interlace = struct.unpack(">IIBBBBB", body)
            assert depth == 8 and interlace == 0 and color in (2, 6)
            channels = 3 if color == 2 else 4
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    raw = zlib.decompress(idat)
    stride = width * channels
    rows: list[bytes] = []
    previous = bytearray(stride)
    for y in range(height):
        start = y * (stride + 1)
        flt, line = raw[start], bytearray(raw[start + 1:start + 1 + stride])
        for i in range(stride):
            left = line[i - channels] if i >= channels else 0
            up = previous[i]
            corner = previous[i - channels] if i >= channels else 0
            if flt == 1:
                line[i] = (line[i] + left) & 0xFF
            elif flt == 2:
                line[i] = (line[i] + up) & 0xFF
            elif flt == 3:
                line[i] = (line[i] + (left + up) // 2) & 0xFF
            elif flt == 4:
                p = left + up - corner
                pa, pb, pc = abs(p - left), abs(p - up), abs(p - corner)
                predictor = left if pa <= pb and pa <= pc else (up if pb <= pc else corner)
                line[i] = (line[i] + predictor) & 0xFF
        rows.append(bytes(line))
        previous = line
    return width, height, [bytes(r) for r in rows]


@pytest.fixture
def label_with_files(hub: HubProcess, owner: str, upload_token: str, dist_dir: Path) -> str:
    for path in (make_wheel(dist_dir, "web-demo", "1.0"),
                 make_wheel(dist_dir, "web-demo", "2.0", tag="cp311-cp311-manylinux_2_28_x86_64"),
                 make_wheel(dist_dir, "web-demo", "2.0", tag="cp312-cp312-manylinux_2_28_x86_64"),
                 make_sdist(dist_dir, "web-demo", "2.0"),
                 make_wheel(dist_dir, "helper-lib", "0.1")):
        assert upload(hub.upload_url(owner, "feature-web"), path, upload_token).status == 200
    return "feature-web"


def test_label_page_in_chromium(hub: HubProcess, owner: str, label_with_files: str,
                                tmp_path: Path) -> None:
    url = hub.upload_url(owner, label_with_files)
    dom = chromium(tmp_path, "--dump-dom", url).stdout
    index = hub.index_url(owner, label_with_files)
    assert f"pip install --extra-index-url {index} web-demo" in dom
    assert 'id="project-web-demo"' in dom and 'id="project-helper-lib"' in dom
    assert 'data-python="cp311" data-platform="manylinux_2_28_x86_64"' in dom
    assert 'data-python="cp312" data-platform="manylinux_2_28_x86_64"' in dom
    assert 'data-python="source"' in dom and ' B</td>' in dom  # sizes
    assert dom.index('<h3 class="version">2.0</h3>') < dom.index('<h3 class="version">1.0</h3>')
    assert "UTC" in dom and '<button class="copy"' in dom

    shot = tmp_path / "label.png"
    chromium(tmp_path, "--window-size=1000,700", f"--screenshot={shot}", url)
    width, height, rows = decode_png(shot.read_bytes())
    assert (width, height) == (1000, 700)
    channels = len(rows[0]) // width
    install_box = bytes((0xF4, 0xF6, 0xF8))  # the .install background behind the pip line
    box_rows = [y for y, row in enumerate(rows)
                if row.count(install_box + (b"\xff" if channels == 4 else b"")) > 300]
    assert len(box_rows) >= 15, "the copyable pip line is not visible in the screenshot"
    dark = sum(1 for row in rows for i in range(0, len(row), channels * 4)
               if row[i] < 100 and row[i + 1] < 100 and row[i + 2] < 100)
    assert dark > 200, "no text rendered in the screenshot"


def test_owner_page_lists_labels_in_chromium(hub: HubProcess, owner: str, label_with_files: str,
                                             tmp_path: Path) -> None:
    dom = chromium(tmp_path, "--dump-dom", hub.upload_url(owner)).stdout
    assert f'data-label="{label_with_files}"' in dom and 'data-label="main"' in dom
    assert f'href="{hub.upload_url(owner, label_with_files)}"' in dom
