"""Shell completion (bash run for real, zsh checked and loaded) and the man page, all generated from
the parser: every command and flag is in each (issue 15)."""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from ajudaplay.cli import build_parser
from ajudaplay.completion import completion_script
from ajudaplay.manpage import man_page
from tests.cli.conftest import ROOT, Project

# Runs an interactive zsh in a pseudo-terminal (zpty), types the line and TAB, and prints what the
# completion system offered, one a line: the technique of zsh-capture-completion (Valodim, MIT).
ZSH_CAPTURE = r'''# usage: zsh -f capture.zsh SCRIPT 'command line'  -> one candidate a line
zmodload zsh/zpty || exit 1
zpty z zsh -f -i
local line
setopt rcquotes
() {
    zpty -w z source $1
    repeat 4; do
        zpty -r z line
        [[ $line == ok* ]] && return
    done
    echo 'error initializing.' >&2
    exit 2
} =( <<< '
PROMPT=
autoload -U compinit
compinit -u -d '$TMPDIR'/zcompdump
source '$1'
bindkey ''^M'' undefined
bindkey ''^J'' undefined
bindkey ''^I'' complete-word
null-line () { echo -E - $''\0'' }
compprefuncs=( null-line )
comppostfuncs=( null-line exit )
zstyle '':completion:*'' list-grouped false
zstyle '':completion:*'' insert-tab false
compadd () {
    if [[ ${@[1,(i)(-|--)]} == *-(O|A|D)\ * ]]; then
        builtin compadd "$@"
        return $?
    fi
    typeset -a __hits
    builtin compadd -A __hits "$@"
    setopt localoptions norcexpandparam extendedglob
    typeset -A apre hpre hsuf asuf
    zparseopts -E P:=apre p:=hpre S:=asuf s:=hsuf
    [[ -n $__hits ]] || return
    for i in {1..$#__hits}; do
        echo -E - $IPREFIX$apre$hpre$__hits[$i]$hsuf$asuf
    done
}
echo ok')
zpty -w z "$2"$'\t'
integer tog=0
while zpty -r z; do :; done | while IFS= read -r line; do
    if [[ $line == *$'\0\r' ]]; then
        (( tog++ )) && return 0 || continue
    fi
    (( tog )) && echo -E - $line
done
return 2
'''


def _every_flag() -> list[tuple[str, str]]:
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return [(name, flag) for name, p in sub.choices.items() for a in p._actions for flag in a.option_strings]


@pytest.fixture
def completing(project: Project, tmp_path: Path) -> Project:
    """A project with an inventory and playbooks, and `ajudaplay` on PATH as the user would have it."""
    project.inventory({"t1": {}, "web-1": {}}, "groups:\n  webs: [web-1]\n")
    project.write("inventory/staging.yml", "targets: {}\n")
    project.write("playbooks/deploy.yml", "- hosts: all\n  tasks: []\n")
    project.write("playbooks/notes.txt", "not a playbook\n")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    wrapper = bin_dir / "ajudaplay"
    wrapper.write_text(f'#!/bin/sh\nexec {sys.executable} -m ajudaplay "$@"\n')
    wrapper.chmod(0o755)
    (project.root / "completion.bash").write_text(completion_script("bash", build_parser()))
    return project


def _bash(project: Project, line: str) -> list[str]:
    """What bash would offer at the end of `line` (COMP_LINE/COMP_POINT as readline sets them)."""
    env = project.env()
    env["PATH"] = f"{project.root / 'bin'}:{env['PATH']}"
    script = 'source ./completion.bash; COMP_LINE="$1"; COMP_POINT=${#COMP_LINE}; _ajudaplay; printf "%s\\n" "${COMPREPLY[@]}"'
    done = subprocess.run(["bash", "-c", script, "bash", line], cwd=project.root, env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return sorted(w for w in done.stdout.splitlines() if w)


def test_bash_completes_commands_flags_and_choices(completing: Project) -> None:
    commands = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction)).choices
    assert {"run", "validate", "history", "inventory", "backups", "completion", "man"} <= set(commands)
    assert _bash(completing, "ajudaplay ") == sorted(commands)  # every command, read from the parser
    assert _bash(completing, "ajudaplay ru") == ["run"]
    assert _bash(completing, "ajudaplay run --chec") == ["--check"]
    assert _bash(completing, "ajudaplay run p.yml --start-at-") == ["--start-at-step", "--start-at-task"]
    assert _bash(completing, "ajudaplay run p.yml --color ") == ["always", "auto", "never"]
    assert _bash(completing, "ajudaplay completion ") == ["bash", "zsh"]


def test_bash_completes_playbooks_and_environments(completing: Project) -> None:
    assert _bash(completing, "ajudaplay run playbooks/") == ["playbooks/deploy.yml"]
    assert _bash(completing, "ajudaplay run playbooks/deploy.yml -i ") == ["staging", "test"]
    assert _bash(completing, "ajudaplay validate playbooks/deploy.yml --inventory=st") == ["staging"]


def test_bash_completes_targets_groups_and_services_from_the_inventory(completing: Project) -> None:
    assert _bash(completing, "ajudaplay unlock -i test ") == ["t1", "web-1"]
    assert _bash(completing, "ajudaplay run p.yml -i test -l ") == ["all", "t1", "web-1", "webs"]
    # bash replaces only what follows the last ':' or '=' of the word
    assert _bash(completing, "ajudaplay run p.yml -i test --limit webs:!w") == ["!web-1", "!webs"]
    assert _bash(completing, "ajudaplay run p.yml -i test --limit=t") == ["t1"]
    assert _bash(completing, "ajudaplay run p.yml -i test -e service=") == ["api"]
    assert _bash(completing, "ajudaplay unlock ") == []  # no -i ENV: no names to offer


def test_bash_script_has_every_flag() -> None:
    script = completion_script("bash", build_parser())
    missing = [(name, flag) for name, flag in _every_flag() if f" {flag}" not in script and f"'{flag}" not in script]
    assert missing == []


@pytest.mark.skipif(shutil.which("zsh") is None, reason="zsh is not installed")
def test_zsh_script_is_valid_and_registers_itself(tmp_path: Path) -> None:
    path = tmp_path / "_ajudaplay"
    path.write_text(completion_script("zsh", build_parser()))
    assert subprocess.run(["zsh", "-n", str(path)], capture_output=True, text=True).returncode == 0
    code = (f"autoload -U compinit; compinit -u -d {tmp_path}/zcompdump; source {path}; "
            "print -r -- $_comps[ajudaplay]; whence -w _ajudaplay_run _ajudaplay_limit")
    done = subprocess.run(["zsh", "-f", "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["_ajudaplay", "_ajudaplay_run:", "function", "_ajudaplay_limit:", "function"]


def _zsh(project: Project, line: str) -> list[str]:
    env = project.env()
    env["PATH"] = f"{project.root / 'bin'}:{env['PATH']}"
    env["TMPDIR"] = str(project.root)
    done = subprocess.run(["zsh", "-f", "capture.zsh", str(project.root / "_ajudaplay"), line], cwd=project.root, env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return sorted({w.strip() for w in done.stdout.splitlines() if w.strip()})


@pytest.mark.skipif(shutil.which("zsh") is None, reason="zsh is not installed")
def test_zsh_completes_commands_flags_files_and_inventory_names(completing: Project) -> None:
    (completing.root / "_ajudaplay").write_text(completion_script("zsh", build_parser()))
    (completing.root / "capture.zsh").write_text(ZSH_CAPTURE)
    assert "run" in _zsh(completing, "ajudaplay ") and "inventory" in _zsh(completing, "ajudaplay ")
    assert _zsh(completing, "ajudaplay run --chec") == ["--check"]
    assert _zsh(completing, "ajudaplay run playbooks/") == ["playbooks/deploy.yml"]
    assert {"staging", "test"} <= set(_zsh(completing, "ajudaplay run p.yml -i "))
    assert _zsh(completing, "ajudaplay run p.yml --color ") == ["always", "auto", "never"]
    assert _zsh(completing, "ajudaplay unlock -i test ") == ["t1", "web-1"]
    assert _zsh(completing, "ajudaplay run p.yml -i test -l webs:!") == ["webs:!all", "webs:!t1", "webs:!web-1", "webs:!webs"]
    assert _zsh(completing, "ajudaplay run p.yml -i test -e service=") == ["service=api"]


def test_zsh_script_has_every_flag() -> None:
    script = completion_script("zsh", build_parser())
    # a flag is spelt bare, or with `=`/`+` when it takes a value, inside a quoted or braced spec
    missing = [(name, flag) for name, flag in _every_flag()
               if not any(f"{flag}{end}" in script for end in ("'", ",", "}", "=", "+"))]
    assert missing == []


def test_man_page_is_clean_roff_with_every_command_and_flag(tmp_path: Path) -> None:
    page = man_page(build_parser(), "0.0")
    assert page.startswith(".TH AJUDAPLAY 1 ")
    for name, flag in _every_flag():
        assert flag.replace("-", "\\-") in page, (name, flag)
    if shutil.which("groff") is None:
        pytest.skip("groff is not installed")
    done = subprocess.run(["groff", "-man", "-Tutf8", "-ww", "-z"], input=page, capture_output=True, text=True)
    assert done.returncode == 0 and done.stderr == ""


def test_commands_print_the_generated_texts() -> None:
    for argv, start in ((["completion", "bash"], "# bash completion"), (["completion", "zsh"], "#compdef ajudaplay"),
                        (["man"], ".TH AJUDAPLAY 1")):
        done = subprocess.run([sys.executable, "-m", "ajudaplay", *argv], cwd=ROOT, capture_output=True, text=True,
                              timeout=60)
        assert done.returncode == 0 and done.stdout.startswith(start), done.stderr
