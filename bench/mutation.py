"""Mutation testing of the pure core with mutmut 3: prints the survival rate and the surviving mutants.

A quality job, not a test: it changes the code one small mutation at a time
(`<` for `<=`, `and` for `or`, a string or number altered, a call's argument
dropped) and runs the tests that need no Docker, sshd or cluster against each
mutant. A mutant the tests do not notice "survives". Survivors that cannot be
told apart from the real code by any test (equivalent mutants) are listed, each
with its reason, in bench/mutation_equivalent.txt; everything else is a gap in
the tests.

    .venv/bin/pip install 'mutmut>=3.8,<4'
    nice -n 19 .venv/bin/python bench/mutation.py                      # the whole core (long)
    nice -n 19 .venv/bin/python bench/mutation.py --only ajudaplay/redaction.py ajudaplay/inventory/patterns.py

It works on a copy of the committed tree (`git archive HEAD`) in --work
(default /tmp/ajudaplay-mutation), never in the work tree: mutmut writes a
`mutants/` folder next to the code. --resume keeps that copy and mutmut's
results, so an interrupted run goes on where it stopped; --resume --retest-survivors
re-runs only the survivors against the tests committed since.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tarfile
import io
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EQUIVALENT = ROOT / "bench" / "mutation_equivalent.txt"

# The pure core (issue 16): no Docker, no SSH, no cluster behind any of it.
CORE = [
    "ajudaplay/engine/*",
    "ajudaplay/playbook/*",
    "ajudaplay/inventory/*",
    "ajudaplay/templating.py",
    "ajudaplay/redaction.py",
    "ajudaplay/report/*",
    "ajudaplay/journal/*",
]
# The tests that exercise it in-process (mutmut maps each function to the tests that run it;
# subprocess CLI tests are invisible to that map, so they are not listed).
TESTS = [
    "tests/engine",
    "tests/validation",
    "tests/report",
    "tests/journal",
    "tests/properties",
    "tests/test_shipped.py",
]
# Files left out: they start `ajudaplay` as a subprocess from a temporary folder and assert on
# timing or on the child's files. mutmut cannot map a child's calls to tests, so these never kill
# a mutant there, and under its tracing their timing assumptions fail on the unmutated code.
IGNORE = [
    "tests/engine/test_data_safety.py",
    "tests/engine/test_lock_lost.py",
    "tests/validation/test_yaml_bounds.py",
    "tests/report/test_secret_redaction.py",
    "tests/report/test_secret_redaction_compose.py",
]
PYTEST_ARGS = ["-p", "no:cacheprovider", "-q", "-m", "not docker and not kubernetes and not ssh",
               *(f"--ignore={path}" for path in IGNORE)]

# Tests that run `python -m ajudaplay` from a temporary folder import the mutated code there, and
# mutmut's trampoline reads its configuration from the current folder at import. This shim, put on
# the child's PYTHONPATH (the mutants folder), loads that configuration from the mutants folder first.
SITECUSTOMIZE = '''"""Written by bench/mutation.py: mutmut's configuration for subprocesses started elsewhere."""
import os

if "MUTANT_UNDER_TEST" in os.environ:
    _here, _cwd = os.path.dirname(os.path.abspath(__file__)), os.getcwd()
    if _cwd != _here:
        try:
            os.chdir(_here)
            from mutmut.configuration import config

            config()
        finally:
            os.chdir(_cwd)
'''

# mutmut's exit codes per mutant (mutmut/stats.py)
STATUS = {1: "killed", 3: "killed", 0: "survived", 5: "no tests", 33: "no tests", 34: "skipped",
          36: "timeout", 24: "timeout", -24: "timeout", 152: "timeout", 255: "timeout",
          37: "caught by type check", None: "not checked"}


def prepare(work: Path, only: list[str], resume: bool) -> None:
    """A fresh copy of the committed tree with mutmut's configuration appended to its pyproject.toml."""
    if resume and (work / "pyproject.toml").exists():
        return
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    archive = subprocess.run(["git", "archive", "HEAD"], cwd=ROOT, capture_output=True, check=True).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(work, filter="data")
    (work / "sitecustomize.py").write_text(SITECUSTOMIZE)
    config = {
        "source_paths": ["ajudaplay"],
        "only_mutate": only,
        "also_copy": ["docs", "playbooks", "inventory", "README.md", "sitecustomize.py"],
        "pytest_add_cli_args": PYTEST_ARGS,
        "pytest_add_cli_args_test_selection": TESTS,
        "process_isolation": "forkserver",  # the tests run under gevent's monkey-patching
    }
    lines = ["", "[tool.mutmut]"] + [f"{key} = {json.dumps(value)}" for key, value in config.items()]
    with open(work / "pyproject.toml", "a", encoding="utf-8") as fh:
        fh.write("\n".join(lines) + "\n")


def refresh_tests(work: Path) -> None:
    """Replace the copy's tests/ with the committed ones (after tests were added to kill survivors)."""
    shutil.rmtree(work / "tests", ignore_errors=True)
    archive = subprocess.run(["git", "archive", "HEAD", "tests"], cwd=ROOT, capture_output=True, check=True).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(work, filter="data")


def results(work: Path) -> dict[str, str]:
    """Mutant name -> status, read from mutmut's per-file .meta files."""
    found: dict[str, str] = {}
    for meta in sorted((work / "mutants").rglob("*.py.meta")):
        for name, code in json.loads(meta.read_text())["exit_code_by_key"].items():
            found[name] = STATUS.get(code, "suspicious")
    return found


def equivalent() -> dict[str, str]:
    """Explained survivors: `mutant_name  reason` per line, # comments."""
    explained: dict[str, str] = {}
    if EQUIVALENT.exists():
        for line in EQUIVALENT.read_text().splitlines():
            line = line.strip()
            if line and not line.startswith("#"):
                name, _, reason = line.partition(" ")
                explained[name] = reason.strip()
    return explained


def report(work: Path, statuses: dict[str, str], show_diffs: bool, only: list[str]) -> int:
    counts = Counter(statuses.values())
    total = len(statuses)
    if not total:
        print("no mutants (nothing matched --only?)")
        return 2
    explained = equivalent()
    # a timeout counts as detected (the mutant made the tests hang); "no tests" is a survivor: nothing checks it
    surviving = sorted(n for n, s in statuses.items() if s in ("survived", "no tests", "suspicious"))
    unexplained = [n for n in surviving if n not in explained]
    checked = total - counts["not checked"]
    print(f"mutated: {' '.join(only)}")
    print(f"tests:   {' '.join(TESTS)}")
    print("mutants: " + ", ".join(f"{k} {v}" for k, v in counts.most_common()) + f" (total {total})")
    if not checked:
        print("no mutant checked yet")
        return 2
    print(f"survival rate: {len(surviving) / checked:.1%} ({len(surviving)}/{checked} checked); "
          f"without the explained equivalent mutants: {len(unexplained) / checked:.1%} ({len(unexplained)})")
    for name in surviving:
        note = f"  (equivalent: {explained[name]})" if name in explained else ""
        print(f"  {statuses[name]:9} {name}{note}")
        if show_diffs and name not in explained:
            diff = subprocess.run([_mutmut(), "show", name], cwd=work, capture_output=True, text=True).stdout
            print("\n".join("      " + line for line in diff.splitlines()[1:]))
    return 0


def _mutmut() -> str:
    return str(Path(sys.executable).with_name("mutmut"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", nargs="+", default=CORE, metavar="GLOB", help="files to mutate (default: the core)")
    parser.add_argument("--work", type=Path, default=Path("/tmp/ajudaplay-mutation"))
    parser.add_argument("--max-children", type=int, default=2, help="mutants tested in parallel (default 2)")
    parser.add_argument("--resume", action="store_true", help="keep --work and mutmut's results from an earlier run")
    parser.add_argument("--retest-survivors", action="store_true",
                        help="with --resume: take the committed tests again and re-run only the survivors")
    parser.add_argument("--report-only", action="store_true", help="print the results in --work, run nothing")
    parser.add_argument("--show-diffs", action="store_true", help="print each unexplained survivor's diff")
    args = parser.parse_args(argv)
    if not Path(_mutmut()).exists():
        print(f"mutmut is not installed: {Path(sys.executable).parent}/pip install 'mutmut>=3.8,<4'", file=sys.stderr)
        return 2
    if not args.report_only:
        prepare(args.work, args.only, args.resume)
        names: list[str] = []
        if args.retest_survivors:
            refresh_tests(args.work)
            names = [n for n, s in results(args.work).items() if s in ("survived", "no tests", "suspicious")]
        env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
        done = subprocess.run([_mutmut(), "run", "--max-children", str(args.max_children), *names],
                              cwd=args.work, env=env)
        if done.returncode != 0:
            print(f"mutmut run exited {done.returncode} (do the selected tests pass on the unmutated code?)",
                  file=sys.stderr)
            return 2
    return report(args.work, results(args.work), args.show_diffs, args.only)


if __name__ == "__main__":
    sys.exit(main())
