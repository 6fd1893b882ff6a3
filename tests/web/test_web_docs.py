"""docs/service.md cannot rot: its curl session is run against a real service (issue 12,
point 7), and the inspector screenshot it shows exists."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from service_doc import DOC, examples, rewrite, run


def test_the_curl_session_answers_what_the_doc_shows(tmp_path: Path) -> None:
    """Every command of docs/service.md's curl session, run in order against a fresh
    service, prints exactly the answer the doc shows (make service-doc rewrites them)."""
    missing = [tool for tool in ("curl", "jq", "openssl") if shutil.which(tool) is None]
    if missing:
        message = f"the doc's session needs {', '.join(missing)} (apt-get install them)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)
    text = DOC.read_text(encoding="utf-8")
    assert len(examples(text)) >= 10
    outputs = run(text, tmp_path)
    for block, output in zip(examples(text), outputs, strict=True):
        assert output == block["output"], f"{block['command']}\nprinted:\n{output}"
    assert rewrite(text, outputs) == text


def test_the_doc_shows_the_inspector_screenshot() -> None:
    """The screenshot docs/service.md shows is a PNG in docs/images (make screenshots)."""
    text = DOC.read_text(encoding="utf-8")
    assert "](images/inspector-order.png)" in text
    picture = DOC.parent / "images" / "inspector-order.png"
    assert picture.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
