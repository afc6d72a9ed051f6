"""JUnit XML: parses, validates against the JUnit schema CI tools read, counts match the run."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import xmlschema

from ajudaplay.engine.events import Event, TaskResult
from ajudaplay.report.junit import JUnitReporter
from ajudaplay.targets.base import Result
from tests.report import scripted
from tests.report.conftest import feed

SCHEMA = Path(__file__).parent / "data" / "junit.xsd"


@pytest.fixture(scope="module")
def schema() -> xmlschema.XMLSchema:
    return xmlschema.XMLSchema(str(SCHEMA))


def write(events: list[Event], path: Path) -> ET.Element:
    feed(JUnitReporter(path), events)
    return ET.parse(path).getroot()


def test_valid_and_counts_match(tmp_path: Path, run_events: list[Event], schema: xmlschema.XMLSchema) -> None:
    path = tmp_path / "reports" / "junit.xml"
    root = write(run_events, path)
    schema.validate(str(path))
    suites = root.findall("testsuite")
    assert [s.get("name") for s in suites] == ["deploy api"]
    suite = suites[0]
    results = [e for e in run_events if isinstance(e, TaskResult)]
    assert suite.get("tests") == str(len(results)) == root.get("tests")
    assert (suite.get("failures"), suite.get("errors"), suite.get("skipped")) == ("1", "1", "1")
    props = {p.get("name"): p.get("value") for p in suite.iter("property")}
    assert props["run_id"] == scripted.RUN_ID and props["outcome"] == "failed" and props["exit_code"] == "2"
    failure = suite.find("testcase[@classname='deploy api.small'][@name='deploy image']/failure")
    assert failure is not None
    assert failure.get("message") == "rolled back: health check failed: GET /health returned 503"
    assert "container api is unhealthy" in (failure.text or "")  # stderr, for the CI log reader
    assert suite.find("testcase[@name='nginx config'][@classname='deploy api.small']/error") is not None
    assert suite.find("testcase[@name='service status'][@classname='deploy api.small']/skipped") is not None
    assert suite.find("testcase[@name='service status (item=api)']") is not None
    assert suite.get("timestamp") == "2024-05-01T12:00:00"


def test_interrupted_run_still_writes_a_report(tmp_path: Path, schema: xmlschema.XMLSchema) -> None:
    events = scripted.events(finished=False)[:4]  # deploy started on both, one result in
    path = tmp_path / "junit.xml"
    root = write(events, path)
    schema.validate(str(path))
    suite = root.find("testsuite")
    assert suite is not None
    assert suite.get("tests") == "2" and suite.get("errors") == "1"
    props = {p.get("name"): p.get("value") for p in suite.iter("property")}
    assert props["outcome"] == "interrupted"


def test_control_characters_from_output_do_not_break_xml(tmp_path: Path, schema: xmlschema.XMLSchema) -> None:
    events = scripted.events()
    bad = TaskResult(scripted.RUN_ID, scripted.PLAY, "cmd", "cluster", "failed",
                     Result(failed=True), 0.2, scripted.T0, error="exit 1: \x1b[31mred\x00\x07")
    events.insert(-1, bad)
    path = tmp_path / "junit.xml"
    write(events, path)
    schema.validate(str(path))
    assert "exit 1: [31mred" in path.read_text()


def test_unwritable_path_is_kept_not_raised(tmp_path: Path, run_events: list[Event]) -> None:
    (tmp_path / "file").write_text("")
    reporter = JUnitReporter(tmp_path / "file" / "junit.xml")
    feed(reporter, run_events)
    assert isinstance(reporter.error, OSError)
