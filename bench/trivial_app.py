"""The HTTP ceiling: one trivial Flask route, served by bench/run.py under gunicorn with
the gateway's settings (``gunicorn -k gthread --threads 8 ... bench.trivial_app:app``)."""

from __future__ import annotations

from flask import Flask, jsonify, request

app = Flask(__name__)


@app.post("/trivial")
def trivial() -> tuple[object, int]:
    """Reads the same JSON body a submission carries and answers 202 with a small body."""
    body = request.get_json(silent=True) or {}
    return jsonify({"ok": True, "fields": len(body)}), 202
