"""The image's HEALTHCHECK: the real check for whichever role the container runs.

It reads the container's main process (PID 1) and runs the check for it:
a nameko service ``S.service`` -> ``engage_common.healthcheck S`` (the health RPC, which
answers only when the service consumes RPCs and its database answers); the read model
(``gateway.readmodels.projections``) -> ``engage_common.healthcheck gateway_projections``;
gunicorn -> ``GET /readyz`` on its port. Anything else (a one-off command) is healthy.
Exit status 0 healthy, 1 not (Docker's convention).
"""

from __future__ import annotations

import re
import sys
import urllib.request
from pathlib import Path


def role_of(command: str) -> tuple[str, str] | None:
    """("rpc", service) or ("http", url) for a container's command line, else None."""
    if "gateway.readmodels.projections" in command:
        return ("rpc", "gateway_projections")
    service = re.search(r"nameko run\b.*?\s([a-z_]+)\.service\b", command)
    if service:
        return ("rpc", service.group(1))
    if "gunicorn" in command:
        bind = re.search(r"(?:-b|--bind)[ =]['\"]?[\w.]*:(\d+)", command)
        port = bind.group(1) if bind else "8000"
        return ("http", f"http://127.0.0.1:{port}/readyz")
    return None


def main() -> int:
    command = Path("/proc/1/cmdline").read_bytes().replace(b"\0", b" ").decode()
    role = role_of(command)
    if role is None:
        return 0
    kind, target = role
    if kind == "rpc":
        from engage_common import healthcheck

        return healthcheck.main([target])
    try:
        with urllib.request.urlopen(target, timeout=10) as answer:
            return 0 if answer.status == 200 else 1
    except Exception as exc:  # any failure means unhealthy; say why
        print(f"gateway: not ready: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
