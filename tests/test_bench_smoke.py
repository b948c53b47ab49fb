"""Issue 15: the bench's smoke version runs end to end (``bench/run.py --smoke``).

Only that every measurement produced a positive figure and the output files exist:
timings belong in the bench's results, never in assertions."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.heavy  # ./engage test runs it beside the rest

ROOT = Path(__file__).resolve().parent.parent


def test_the_bench_smoke_run_measures_everything(tmp_path: Path) -> None:
    run = subprocess.run(
        [sys.executable, "-W", "ignore", str(ROOT / "bench" / "run.py"), "--smoke"]
        + ["--out", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    results = json.loads((tmp_path / "results.json").read_text())
    sections = {f["section"] for f in results["figures"]}
    assert sections == {
        "1 ceilings",
        "2 accepting",
        "3 storing",
        "4 seeding",
        "5 reads at scale",
        "6 freshness",
        "7 growth",
    }
    for figure in results["figures"]:
        assert figure["value"] > 0, figure
        if figure["ceiling"]:
            assert figure["ratio"] and figure["ratio"] > 0, figure
    assert len(results["growth"]) == 2
    assert "| section | figure |" in (tmp_path / "results.md").read_text()
    assert (tmp_path / "growth.svg").read_text().lstrip().startswith("<?xml")
