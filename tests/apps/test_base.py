"""What every app shares: download links."""

from __future__ import annotations

import base64
import re

import pytest

from quantlib.apps.base import download_link


def test_download_link_holds_the_file_and_escapes_names():
    link = download_link('plan "Q1" <b>.xlsx', b"\x00binary", "Export <Excel>", "x-export")
    assert 'download="plan &quot;Q1&quot; &lt;b&gt;.xlsx"' in link and ">Export &lt;Excel&gt;</a>" in link
    mime, payload = re.search(r'href="data:([^;]+);base64,([^"]+)"', link).groups()
    assert mime == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    assert base64.b64decode(payload) == b"\x00binary"
    assert 'href="data:text/csv;base64,' in download_link("a.CSV", b"x", "CSV", "c")
    with pytest.raises(ValueError, match="no download type"):
        download_link("a.exe", b"", "run me", "c")
