"""The CPU the redactor costs a bench response, to weigh it against surveys' whole CPU a
response in the drain (``run.py``'s storing figure says that one in its note).

    .venv/bin/python bench/redaction_cost.py [--responses 2000]

Redacts the free text of ``bench.run.answer(i)`` for ``--responses`` responses in this
process (after one warm-up call, which loads Presidio and spaCy) and prints the CPU time
(``time.process_time``) a response. See bench/README.md, "Fifth round".
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from run import answer  # noqa: E402

from engage_common.redaction import redact_all  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--responses", type=int, default=2000)
    args = parser.parse_args()
    texts = [
        value
        for i in range(args.responses)
        for value in answer(i)["answers"].values()
        if isinstance(value, str) and " " in value  # free text, not an option's value
    ]
    redact_all(texts[:1])
    started = time.process_time()
    redact_all(texts)
    cpu = time.process_time() - started
    print(
        f"{len(texts)} free texts of {args.responses} responses:"
        f" {cpu * 1000 / args.responses:.3f} ms of CPU a response"
    )


if __name__ == "__main__":
    main()
