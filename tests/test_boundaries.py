"""The boundaries docs/architecture.md draws: services and the gateway import only the
two shared packages (engage_common, engage_contracts), never each other, and the shared
packages import none of them. Checked with import-linter against ``[tool.importlinter]``
in pyproject.toml."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LINT_IMPORTS = str(Path(sys.executable).parent / "lint-imports")


def lint(cwd: Path, config: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [LINT_IMPORTS, "--config", config, "--no-cache"],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_no_service_or_gateway_imports_another() -> None:
    result = lint(ROOT, "pyproject.toml")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "3 kept, 0 broken" in result.stdout


def test_the_check_catches_a_service_importing_another(tmp_path: Path) -> None:
    """The same kind of contract, on two packages where one imports the other."""
    for name, body in (("alpha", "import beta.service\n"), ("beta", "")):
        (tmp_path / name).mkdir()
        (tmp_path / name / "__init__.py").write_text(body)
        (tmp_path / name / "service.py").write_text("")
    (tmp_path / "contracts.toml").write_text(
        '[tool.importlinter]\nroot_packages = ["alpha", "beta"]\n\n'
        '[[tool.importlinter.contracts]]\nname = "independent"\ntype = "independence"\n'
        'modules = ["alpha", "beta"]\n'
    )
    result = lint(tmp_path, "contracts.toml")
    assert result.returncode != 0
    assert "alpha is not allowed to import beta" in result.stdout, result.stdout
