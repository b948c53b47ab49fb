"""PDFs are rendered in a child process (gateway.application.pdf): WeasyPrint's log calls
from a native thread once hung the eventlet-patched test process on a green lock."""

from __future__ import annotations

import logging
import subprocess

import pytest

from gateway.application.pdf import RenderFailed, render

PAGE = "<html lang='en'><title>T</title><p style='clip-path: circle(1px)'>Hello</p></html>"


def test_a_page_renders_while_this_process_holds_loggings_lock() -> None:
    """The child logs WeasyPrint's warning (clip-path is for screens) on its own: a lock
    held here cannot stop it."""
    logging._acquireLock()  # type: ignore[attr-defined]
    try:
        document = render(PAGE, ["paper_copy.css"])
    finally:
        logging._releaseLock()  # type: ignore[attr-defined]
    assert document.startswith(b"%PDF")
    text = subprocess.run(
        ["pdftotext", "-", "-"], input=document, capture_output=True, check=True
    ).stdout
    assert b"Hello" in text


def test_a_failed_render_says_why() -> None:
    with pytest.raises(RenderFailed, match="no-such.css"):
        render(PAGE, ["no-such.css"])
