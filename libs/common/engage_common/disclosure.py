"""One small-number rule for every count of people Engage shows.

A count of people broken down by place, equality group, theme or event can pick a person
out. So:

- **primary suppression**: a count from 1 to ``threshold - 1`` is not shown ("fewer than
  5"); 0 is shown, since it picks nobody out;
- **secondary suppression**: when the counts of a breakdown add up to a total that is
  shown, hidden counts could be worked out by subtraction. So more counts are hidden,
  smallest first, until at least two are hidden and together they come to at least the
  threshold and more than their number (each hidden count is at least 1, so two hidden
  counts making 2 would both be 1): the total minus what is shown then pins none down;
- **a group too small to show**: a view of one group (a filter) shows nothing about it
  when its own count would be hidden in the breakdown it belongs to (``group_shown``), so
  asking for each group in turn gives away no more than the breakdown does.

The threshold comes from the ICS configuration (``small_number_threshold``, default 5).
Staff's own raw export of responses is the one exception.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from typing import TypeVar

K = TypeVar("K", bound=Hashable)
DEFAULT_THRESHOLD = 5


def hidden(count: int, threshold: int = DEFAULT_THRESHOLD) -> bool:
    """Whether a count on its own must not be shown."""
    return 0 < count < threshold


def suppress(
    counts: Mapping[K, int], threshold: int = DEFAULT_THRESHOLD
) -> tuple[dict[K, int | None], int | None]:
    """``(counts, total)`` as they may be shown: ``None`` for each hidden one. The total is
    hidden too when the hidden counts cannot be protected (fewer than two of them, or less
    than the threshold between them, with nothing left to hide): it would give them away."""
    shown: dict[K, int | None] = {
        k: (None if hidden(v, threshold) else v) for k, v in counts.items()
    }
    while True:
        hidden_keys = [k for k, v in shown.items() if v is None]
        hidden_sum = sum(counts[k] for k in hidden_keys)
        if not hidden_keys or (
            len(hidden_keys) >= 2 and hidden_sum >= max(threshold, len(hidden_keys) + 1)
        ):
            return shown, sum(counts.values())
        candidates = [(counts[k], str(k), k) for k, v in shown.items() if v]  # non-zero, shown
        if not candidates:
            return shown, None
        _, _, smallest = min(candidates)
        shown[smallest] = None


def group_shown(breakdown: Mapping[K, int], group: K, threshold: int = DEFAULT_THRESHOLD) -> bool:
    """Whether a view of ``group`` alone may be shown: its count is not hidden in the
    breakdown it belongs to (with the breakdown's total shown)."""
    if not breakdown.get(group):
        return True  # nobody in it: an empty view picks nobody out
    return suppress(breakdown, threshold)[0][group] is not None


def describe(count: int | None, threshold: int = DEFAULT_THRESHOLD) -> str:
    """A count as words residents and boards read."""
    return f"fewer than {threshold}" if count is None else str(count)
