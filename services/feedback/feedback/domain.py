"""Pure rules for feedback items: no I/O, so the gateway and tests can use them freely."""

from __future__ import annotations

import re
from collections.abc import Iterable

CHANNELS: tuple[str, ...] = ("web", "email", "phone", "letter", "in-person", "event")
MAX_TEXT_LENGTH = 5000
MAX_THEMES = 10
THEME_SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{0,59}$")


def theme_slug(label: str) -> str:
    """``"Waiting times "`` -> ``"waiting-times"`` (the form ``themes.slug`` stores)."""
    return re.sub(r"[^a-z0-9]+", "-", label.strip().lower()).strip("-")[:60].rstrip("-")


def normalise_themes(labels: Iterable[str]) -> tuple[list[str], list[str]]:
    """Slugs for ``labels`` in first-seen order without repeats; returns (slugs, errors)."""
    slugs: list[str] = []
    errors: list[str] = []
    for label in labels:
        slug = theme_slug(label)
        if not THEME_SLUG.match(slug):
            errors.append(f"'{label}' is not a usable theme")
        elif slug not in slugs:
            slugs.append(slug)
    if len(slugs) > MAX_THEMES:
        errors.append(f"at most {MAX_THEMES} themes")
    return slugs, errors
