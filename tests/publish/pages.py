"""Reading a rendered report page the way the network checks need it."""

from __future__ import annotations

import base64
import hashlib
import re

_SCRIPT = re.compile(r"<script\b([^>]*)>(.*?)</script>", re.DOTALL | re.IGNORECASE)
_CSP = re.compile(r'<meta http-equiv="Content-Security-Policy" content="([^"]*)">')


def allowed_hashes(page: str) -> set[str]:
    """The script hashes the page's Content-Security-Policy allows (empty when it forbids scripts)."""
    policy = _CSP.search(page).group(1)
    script_src = next(d for d in policy.split(";") if d.strip().startswith("script-src"))
    return set(re.findall(r"'sha256-([^']+)'", script_src))


def markup(page: str) -> str:
    """``page`` without the scripts its policy allows by hash and without the charts' JSON data block.

    Those hold the embedded Vega bundle (with XML namespace URIs and the like, never fetched: the
    browser test records every request) and the chart specs (data). Every other script stays, so a
    script that is not allowed still shows up to the checks.
    """
    hashes = allowed_hashes(page)

    def keep(match: re.Match) -> str:
        attributes, body = match.group(1), match.group(2)
        if 'type="application/json"' in attributes and 'id="quant-chart-specs"' in attributes:
            return ""
        digest = base64.b64encode(hashlib.sha256(body.encode("utf-8")).digest()).decode()
        return "" if not attributes.strip() and digest in hashes else match.group(0)

    return _SCRIPT.sub(keep, page)
