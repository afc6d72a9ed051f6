"""JUnit XML for CI (GitLab, Jenkins): a testsuite per play, a testcase per task and target.

Follows the Jenkins junit-10.xsd shape the common tools read: failed steps are
<failure>, unreachable targets <error>, skipped steps <skipped/>; the run id and
outcome are properties. Written with xml.etree at RunFinished (or close()).
"""

from __future__ import annotations

import datetime as _dt
import os
import socket
import tempfile
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

from ajudaplay.engine.events import Event, InputProblem, PlayStarted, RunFinished, RunStarted, TaskResult, TaskStarted
from ajudaplay.errors import Diagnostic
from ajudaplay.report.changes import changes_text
from ajudaplay.report.recap import item_text

_INCOMPLETE_OUTCOMES = ("interrupted", "error")


@dataclass
class _Suite:
    """What one play produced, in arrival order."""

    name: str
    started_at: float | None = None
    results: list[TaskResult] = field(default_factory=list)
    pending: dict[tuple[str, str], str] = field(default_factory=dict)  # (task, target) -> task


def _xml_text(text: str) -> str:
    """Drop characters XML 1.0 cannot carry (control bytes from command output)."""
    return "".join(
        ch for ch in text if ch in "\t\n\r" or (" " <= ch <= "\ud7ff") or ("\ue000" <= ch <= "\ufffd")
        or ch >= "\U00010000"
    )


def _case_name(event: TaskResult) -> str:
    name = event.task
    if event.handler:
        name = f"handler: {name}"
    if event.item is not None:
        name = f"{name} (item={item_text(event.item)})"
    return name


class JUnitReporter:
    """The engine `Listener` behind `--junit PATH`."""

    def __init__(self, path: Path) -> None:
        self._path = Path(path)
        self._run: RunStarted | None = None
        self._finished: RunFinished | None = None
        self._suites: list[_Suite] = []
        self._problems: list[Diagnostic] = []  # a run refused at validation: one error case each
        self._written = False
        self.error: OSError | None = None  # the file could not be written

    def _suite(self, play: str) -> _Suite:
        if not self._suites or self._suites[-1].name != play:
            for suite in self._suites:
                if suite.name == play:
                    return suite
            self._suites.append(_Suite(play))
        return self._suites[-1]

    def handle(self, event: Event) -> None:
        """Collect results; write the file when the run finishes."""
        if isinstance(event, RunStarted):
            self._run = event
        elif isinstance(event, PlayStarted):
            self._suites.append(_Suite(event.play))
        elif isinstance(event, TaskStarted):
            suite = self._suite(event.play)
            for target in event.targets:
                suite.pending[(event.task, target)] = event.task
        elif isinstance(event, TaskResult):
            suite = self._suite(event.play)
            if suite.started_at is None:
                suite.started_at = event.started_at
            suite.results.append(event)
            suite.pending.pop((event.task, event.target), None)
        elif isinstance(event, InputProblem):
            self._problems.append(event.diagnostic)
        elif isinstance(event, RunFinished):
            self._finished = event
            self._write()

    def close(self) -> None:
        """Write the report if RunFinished never came (an interrupted run still reports)."""
        if not self._written:
            self._write()

    # building ----------------------------------------------------------------
    def build(self) -> ET.Element:
        """The <testsuites> tree for what was received so far."""
        outcome = self._finished.outcome if self._finished else "interrupted"
        incomplete = outcome in _INCOMPLETE_OUTCOMES
        root = ET.Element("testsuites", name=self._run.playbook if self._run else "ajudaplay")
        totals = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
        total_time = 0.0
        hostname = socket.gethostname()
        for index, suite in enumerate(self._suites):
            counts, elapsed = self._add_suite(root, suite, index, hostname, outcome, incomplete)
            for key in totals:
                totals[key] += counts[key]
            total_time += elapsed
        if self._problems:
            counts = self._add_problems(root, len(self._suites), hostname, outcome)
            for key in totals:
                totals[key] += counts[key]
        for key, value in totals.items():
            if key != "skipped":
                root.set(key, str(value))
        if self._run and self._finished:
            total_time = max(total_time, self._finished.finished_at - self._run.started_at)
        root.set("time", f"{total_time:.3f}")
        return root

    def _add_suite(
        self, root: ET.Element, suite: _Suite, index: int, hostname: str, outcome: str, incomplete: bool
    ) -> tuple[dict[str, int], float]:
        element = ET.SubElement(root, "testsuite", name=suite.name)
        properties = ET.SubElement(element, "properties")
        for name, value in self._properties(outcome):
            ET.SubElement(properties, "property", name=name, value=_xml_text(value))
        counts = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
        elapsed = 0.0
        for event in suite.results:
            counts["tests"] += 1
            elapsed += event.duration
            kind = self._add_case(element, suite.name, event)
            if kind:
                counts[kind] += 1
        if incomplete:
            for task, target in suite.pending:
                counts["tests"] += 1
                counts["errors"] += 1
                case = ET.SubElement(
                    element, "testcase", name=task, classname=f"{suite.name}.{target}", time="0.000"
                )
                ET.SubElement(case, "error", message=f"no result: the run was {outcome}", type=outcome)
        started = suite.started_at or (self._run.started_at if self._run else None)
        if started is not None:
            moment = _dt.datetime.fromtimestamp(started, _dt.timezone.utc)
            element.set("timestamp", f"{moment:%Y-%m-%dT%H:%M:%S}")
        element.set("hostname", hostname)
        element.set("id", str(index))
        element.set("package", self._run.playbook if self._run else "ajudaplay")
        for counter, count in counts.items():
            element.set(counter, str(count))
        element.set("time", f"{elapsed:.3f}")
        ET.SubElement(element, "system-out")
        ET.SubElement(element, "system-err")
        return counts, elapsed

    def _add_problems(self, root: ET.Element, index: int, hostname: str, outcome: str) -> dict[str, int]:
        """The `validation` suite of a refused run: one <error type="invalid"> test case per diagnostic."""
        element = ET.SubElement(root, "testsuite", name="validation")
        properties = ET.SubElement(element, "properties")
        for name, value in self._properties(outcome):
            ET.SubElement(properties, "property", name=name, value=_xml_text(value))
        for problem in self._problems:
            where = str(problem.mark) if problem.mark else "command line"
            case = ET.SubElement(element, "testcase", name=_xml_text(where), classname="validation", time="0.000")
            message = f"{problem.path}: {problem.message}" if problem.path else problem.message
            error = ET.SubElement(case, "error", message=_xml_text(message), type="invalid")
            error.text = _xml_text(str(problem))
        count = len(self._problems)
        if self._run is not None:
            moment = _dt.datetime.fromtimestamp(self._run.started_at, _dt.timezone.utc)
            element.set("timestamp", f"{moment:%Y-%m-%dT%H:%M:%S}")
        element.set("hostname", hostname)
        element.set("id", str(index))
        element.set("package", self._run.playbook if self._run else "ajudaplay")
        for counter, number in (("tests", count), ("failures", 0), ("errors", count), ("skipped", 0)):
            element.set(counter, str(number))
        element.set("time", "0.000")
        ET.SubElement(element, "system-out")
        ET.SubElement(element, "system-err")
        return {"tests": count, "failures": 0, "errors": count, "skipped": 0}

    def _properties(self, outcome: str) -> list[tuple[str, str]]:
        props = [("outcome", outcome)]
        if self._run:
            props[:0] = [
                ("run_id", self._run.run_id),
                ("playbook", self._run.playbook),
                ("inventory", self._run.inventory),
                ("user", self._run.user),
                ("check", str(self._run.check).lower()),
            ]
        if self._finished:
            props.append(("exit_code", str(self._finished.exit_code)))
        return props

    @staticmethod
    def _add_case(parent: ET.Element, play: str, event: TaskResult) -> str:
        """Add one testcase; returns the counter it adds to ('' when it passed)."""
        case = ET.SubElement(
            parent,
            "testcase",
            name=_xml_text(_case_name(event)),
            classname=_xml_text(f"{play}.{event.target}"),
            time=f"{event.duration:.3f}",
        )
        result = event.result
        message = _xml_text(event.error or result.msg)
        stderr = result.data.get("stderr")
        tail = "\n".join(stderr.rstrip("\n").splitlines()[-20:]) if isinstance(stderr, str) else ""
        detail = "\n".join(
            part for part in (message, changes_text(result.changes), *result.warnings, tail) if part
        )
        if result.rolled_back:
            message = f"rolled back: {message}" if message else "rolled back"
        kind = ""
        if event.status == "failed":
            ET.SubElement(case, "failure", message=message, type="failed").text = _xml_text(detail)
            kind = "failures"
        elif event.status in ("unreachable", "interrupted"):  # not the step's fault: an error, not a failure
            ET.SubElement(case, "error", message=message, type=event.status).text = _xml_text(detail)
            kind = "errors"
        elif event.status == "skipped":
            ET.SubElement(case, "skipped", message=message)
            kind = "skipped"
        out = "\n".join(
            part
            for part in (
                f"status: {event.status}" + (" (rolled back)" if result.rolled_back else ""),
                changes_text(result.changes),
                "\n".join(c.unified for c in result.changes if c.unified),
                *(f"warning: {w}" for w in result.warnings),
                message if event.status in ("ignored", "rescued", "ok", "changed") else "",
            )
            if part
        )
        ET.SubElement(case, "system-out").text = _xml_text(out)
        return kind

    def _write(self) -> None:
        self._written = True
        tree = ET.ElementTree(self.build())
        ET.indent(tree)
        try:
            self._path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=".junit-", suffix=".xml", dir=self._path.parent)
            try:
                with os.fdopen(fd, "wb") as handle:
                    tree.write(handle, encoding="utf-8", xml_declaration=True)
                os.replace(tmp, self._path)
            except BaseException:
                os.unlink(tmp)
                raise
        except OSError as exc:
            self.error = exc
