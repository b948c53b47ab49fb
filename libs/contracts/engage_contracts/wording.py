"""A marker for interface wording kept in the contracts (the equality questions, the
likert scale): ``N_("What is your age?")`` is the text unchanged, and tells ``pybabel
extract -k N_`` to put it in the gateway's catalogues. The contracts never import
Flask-Babel; the gateway translates the text where it shows it."""

from __future__ import annotations


def N_(message: str) -> str:  # noqa: N802 (gettext's conventional name)
    """``message`` unchanged: marked for translation only."""
    return message
