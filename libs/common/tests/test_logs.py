"""What an operator reads: an expected outcome raised by a real nameko service is one
line, a real failure one traceback; the shipped LOGGING configs apply the filter."""

from __future__ import annotations

import io
import logging
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from nameko.exceptions import RemoteError
from nameko.rpc import rpc
from nameko.standalone.rpc import ClusterRpcProxy

from engage_common.errors import Conflict, NotFound
from engage_common.logs import EXPECTED, ExpectedOutcomeFilter

ROOT = Path(__file__).resolve().parents[3]
CONFIGS = (
    "services/surveys/config.yaml",
    "services/feedback/config.yaml",
    "services/events/config.yaml",
    "gateway/projections.yaml",
)


class Lookup:
    name = "lookup"

    @rpc(expected_exceptions=EXPECTED)
    def find(self, key: str) -> None:
        raise NotFound(f"There is no consultation with id {key}")

    @rpc
    def close(self, key: str) -> None:
        """Raises an expected outcome without declaring it (nameko logs it at ERROR)."""
        raise Conflict(f"consultation {key} is already closed")

    @rpc(expected_exceptions=KeyError)
    def choose(self, key: str) -> None:
        raise KeyError(key)

    @rpc
    def divide(self, n: int) -> float:
        return n / 0


@pytest.fixture
def log_output() -> Iterator[io.StringIO]:
    """Everything logged, through a handler carrying the filter (as the configs attach it)."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    handler.addFilter(ExpectedOutcomeFilter())
    root = logging.getLogger()
    root.addHandler(handler)
    yield stream
    root.removeHandler(handler)


def test_an_expected_outcome_is_one_line_and_a_failure_one_traceback(
    container_factory: Callable, make_vhost: Callable[[], str], log_output: io.StringIO
) -> None:
    config = {"AMQP_URI": make_vhost()}
    container = container_factory(Lookup, config)
    container.start()
    with ClusterRpcProxy(config) as cluster:
        with pytest.raises(NotFound):
            cluster.lookup.find("c-42")
        with pytest.raises(Conflict):
            cluster.lookup.close("c-7")
        with pytest.raises(RemoteError):
            cluster.lookup.choose("flavour")
        with pytest.raises(RemoteError, match="ZeroDivisionError"):
            cluster.lookup.divide(1)
    container.stop()  # every worker has finished, and logged

    output = log_output.getvalue()
    lines = output.splitlines()
    assert (
        "INFO nameko.containers: lookup.find: NotFound: There is no consultation with id c-42"
        in lines
    ), output
    assert (
        "INFO nameko.containers: lookup.close: Conflict: consultation c-7 is already closed"
        in lines
    ), output
    assert "INFO nameko.containers: lookup.choose: KeyError: 'flavour'" in lines, output
    assert output.count("Traceback") == 1, output
    failure = output[output.index("ERROR nameko.containers: error handling worker") :]
    assert "lookup.divide" in failure.splitlines()[0]
    assert "Traceback" in failure and "ZeroDivisionError: division by zero" in failure


def test_a_record_without_an_expected_exception_is_untouched() -> None:
    try:
        {}["missing"]
    except KeyError:
        record = logging.LogRecord(
            "x", logging.ERROR, __file__, 1, "lookup failed: %s", ("missing",), sys.exc_info()
        )
    assert ExpectedOutcomeFilter().filter(record)
    assert record.levelno == logging.ERROR and record.exc_info is not None
    assert record.getMessage() == "lookup failed: missing"


LOG_WITH_EACH_CONFIG = """
import logging, logging.config, sys, yaml
from nameko.cli.main import setup_yaml_parser
from engage_common.errors import NotFound
setup_yaml_parser()  # ${LOG_FORMAT:auto} and the like, as nameko run reads them
for path in sys.argv[1:]:
    with open(path) as f:
        logging.config.dictConfig(yaml.safe_load(f)["LOGGING"])
    print("==", path, flush=True)
    log = logging.getLogger("check")
    try:
        raise NotFound("no such thing")
    except NotFound:
        log.exception("handling a request")
    try:
        1 / 0
    except ZeroDivisionError:
        log.exception("handling another")
"""


def test_every_shipped_logging_config_applies_the_filter() -> None:
    result = subprocess.run(
        [sys.executable, "-W", "ignore", "-c", LOG_WITH_EACH_CONFIG, *CONFIGS],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env={"PYTHONPATH": str(ROOT / "libs"), "PATH": "", "LOG_FORMAT": "text"},
    )
    assert result.returncode == 0, result.stderr
    sections = result.stdout.split("== ")[1:]
    assert [s.splitlines()[0] for s in sections] == list(CONFIGS)
    for section in sections:
        assert "INFO check" in section and "handling a request: NotFound: no such thing" in section
        assert section.count("Traceback") == 1, section
        assert "ZeroDivisionError" in section
