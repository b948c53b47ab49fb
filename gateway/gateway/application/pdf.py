"""HTML to a tagged PDF (PDF/UA-1) with WeasyPrint, in a child process.

WeasyPrint holds the CPU for seconds and logs (CSS for screens ignored on paper) from
whatever thread renders. In a thread of a process eventlet has patched (a test process, a
nameko service), that log call takes a lock eventlet made green, and a native thread that
waits on a green lock hangs for good: it happened in the test suite. A child process
shares no lock with its parent, keeps WeasyPrint's memory out of the gateway worker, and
waits cooperatively under eventlet (its pipes are green there). Starting it costs about
half a second, paid once per document: board papers and paper copies are kept.

Usage (what ``render`` runs): ``python -m gateway.application.pdf CSS_FILE... < page.html``
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

STATIC = Path(__file__).resolve().parent.parent / "web" / "static"
TIMEOUT = 300  # seconds: a board paper at a million responses renders in about 2


class RenderFailed(RuntimeError):
    """WeasyPrint's child process failed; the message ends with its last error lines."""


def render(html: str, stylesheets: Sequence[str]) -> bytes:
    """The PDF of ``html`` with ``stylesheets`` (file names in the gateway's static
    folder), rendered in a child process; only ``data:`` URLs are fetched."""
    done = subprocess.run(
        [sys.executable, "-m", "gateway.application.pdf", *stylesheets],
        input=html.encode(),
        capture_output=True,
        timeout=TIMEOUT,
        check=False,
    )
    if done.returncode != 0 or not done.stdout.startswith(b"%PDF"):
        tail = done.stderr.decode(errors="replace").strip().splitlines()[-5:]
        raise RenderFailed(f"WeasyPrint exited with {done.returncode}: {' | '.join(tail)}")
    return done.stdout


def _render_here(html: str, stylesheets: Sequence[str]) -> bytes:
    import weasyprint
    from weasyprint.urls import URLFetcher

    sheets = [weasyprint.CSS(filename=str(STATIC / name)) for name in stylesheets]
    document = weasyprint.HTML(string=html, url_fetcher=URLFetcher(allowed_protocols=["data"]))
    return document.write_pdf(stylesheets=sheets, pdf_variant="pdf/ua-1", pdf_tags=True)


if __name__ == "__main__":
    import logging

    logging.basicConfig(level=logging.ERROR)  # WeasyPrint's warnings are about screens
    sys.stdout.buffer.write(_render_here(sys.stdin.buffer.read().decode(), sys.argv[1:]))
