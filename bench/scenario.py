"""The benchmark's work, written three times: ajudaplay playbooks, Ansible playbooks, pyinfra deploys.

Ten tasks per host (a directory, two inline files, one static file, two
templates, a stat, a read, a marker made once, a wait for it), plus 1 and 50
trivial `true` commands for the per-task overhead (also run on `@local`, where
start-up is the whole cost). Host i is 127.0.0.i with
user ajtest<i>, files under /home/ajtest<i>/ajbench-<tool>. The templates use
no block tag followed by a newline, so Jinja2's trim_blocks (Ansible's
default) and plain Jinja2 (ajudaplay, pyinfra) render the same bytes.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

EXPECTED_FILES = 6  # per host: app.conf, app.env, motd.txt, nginx.conf, app.ini, done.marker
PORTS = [8080, 8081, 8082]
APP_CONF = "listen=0.0.0.0:8080\nworkers=4\nlog_level=info\n"
APP_ENV = "ASPNETCORE_ENVIRONMENT=Production\nDB_PATH=/data/app.db\n"
MOTD = "managed by the benchmark\n" * 20
NGINX_J2 = (
    "# {{ node_name }} managed by the benchmark\n"
    "upstream api { {% for p in ports %}server 127.0.0.1:{{ p }}; {% endfor %}}\n"
    "server { listen {{ listen_port }}; location / { proxy_pass http://api; } }\n"
)
INI_J2 = "[app]\nname = {{ node_name }}\nports = {{ ports | join(',') }}\nhealth = /health\n"


def bench_dir(i: int, tool: str) -> Path:
    """Where host i's files for `tool` go (the same machine: distinct users and folders)."""
    return Path(f"/home/ajtest{i:02d}/ajbench-{tool}")


def host_vars(i: int, tool: str) -> dict[str, Any]:
    return {"node_name": f"h{i:02d}", "bench_dir": str(bench_dir(i, tool)), "listen_port": 8000 + i}


def generate(work: Path, sshd: Any, max_hosts: int, counts: list[int]) -> None:
    """Write every tool's inventories, playbooks, templates and files under `work`."""
    for tool in ("ajudaplay", "ansible", "pyinfra"):
        base = work / tool
        (base / "templates").mkdir(parents=True, exist_ok=True)
        (base / "files").mkdir(exist_ok=True)
        (base / "templates" / "nginx.conf.j2").write_text(NGINX_J2)
        (base / "templates" / "app.ini.j2").write_text(INI_J2)
        (base / "files" / "motd.txt").write_text(MOTD)
    (work / "ajudaplay" / "inventory-local.yml").write_text(json.dumps({"targets": {"bench-local": {"host": "@local"}}}))
    for n in sorted(set(counts) | {1}):
        _ajudaplay_inventory(work, sshd, n)
        _ansible_inventory(work, sshd, n)
        _pyinfra_inventory(work, sshd, n)
    _ajudaplay_playbooks(work)
    _ansible_files(work, sshd)
    _pyinfra_deploys(work)


# ajudaplay ----------------------------------------------------------------------------
def _ajudaplay_inventory(work: Path, sshd: Any, n: int) -> None:
    targets = {
        f"h{i:02d}": {
            "host": f"ssh://ajtest{i:02d}@127.0.0.{i}:{sshd.port}",
            "key": str(sshd.client_key),
            "known_hosts": str(sshd.known_hosts),
            "vars": host_vars(i, "ajudaplay"),
        }
        for i in range(1, n + 1)
    }
    doc = {"vars": {"ports": PORTS}, "targets": targets}
    (work / "ajudaplay" / f"inventory-{n}.yml").write_text(json.dumps(doc, indent=1))  # JSON is YAML


def _ajudaplay_playbooks(work: Path) -> None:
    d = "{{ bench_dir }}"
    tasks: list[dict[str, Any]] = [
        {"name": "conf dir", "command": {"argv": ["mkdir", "-p", f"{d}/conf"], "creates": f"{d}/conf"}},
        {"name": "app.conf", "copy": {"content": APP_CONF, "dest": f"{d}/conf/app.conf", "mode": "0644"}},
        {"name": "app.env", "copy": {"content": APP_ENV, "dest": f"{d}/conf/app.env", "mode": "0600"}},
        {"name": "motd", "copy": {"src": "files/motd.txt", "dest": f"{d}/motd.txt", "mode": "0644"}},
        {"name": "nginx.conf", "template": {"src": "templates/nginx.conf.j2", "dest": f"{d}/conf/nginx.conf", "mode": "0644"}},
        {"name": "app.ini", "template": {"src": "templates/app.ini.j2", "dest": f"{d}/conf/app.ini", "mode": "0644"}},
        {"name": "stat", "command": f"stat -c %s {d}/conf/app.conf", "register": "st", "changed_when": False},
        {"name": "read", "command": f"cat {d}/conf/app.conf", "changed_when": False},
        {"name": "marker", "command": {"argv": ["touch", f"{d}/done.marker"], "creates": f"{d}/done.marker"}},
        {"name": "wait marker", "wait_for": {"path": f"{d}/done.marker", "timeout": 10}},
    ]
    play = lambda name, t: [{"name": name, "hosts": "all", "tasks": t}]  # noqa: E731
    base = work / "ajudaplay"
    (base / "tenstep.yml").write_text(json.dumps(play("tenstep", tasks), indent=1))
    for count in (1, 50):
        trivial = [{"name": f"t{k}", "command": "true"} for k in range(count)]
        (base / f"trivial{count}.yml").write_text(json.dumps(play(f"trivial{count}", trivial), indent=1))


# ansible ------------------------------------------------------------------------------
def _ansible_inventory(work: Path, sshd: Any, n: int) -> None:
    hosts = {
        f"h{i:02d}": {"ansible_host": f"127.0.0.{i}", "ansible_user": f"ajtest{i:02d}", **host_vars(i, "ansible")}
        for i in range(1, n + 1)
    }
    doc = {"all": {"hosts": hosts, "vars": {"ports": PORTS, "ansible_port": sshd.port,
                                             "ansible_ssh_private_key_file": str(sshd.client_key)}}}
    (work / "ansible" / f"inventory-{n}.yml").write_text(json.dumps(doc, indent=1))


def _ansible_files(work: Path, sshd: Any) -> None:
    base = work / "ansible"
    (base / "ansible.cfg").write_text(f"""\
[defaults]
host_key_checking = True
gathering = explicit
forks = 50
interpreter_python = /usr/bin/python3
retry_files_enabled = False
deprecation_warnings = False
[ssh_connection]
pipelining = True
ssh_args = -o ControlMaster=auto -o ControlPersist=120s -o UserKnownHostsFile={sshd.known_hosts} -o StrictHostKeyChecking=yes -o IdentitiesOnly=yes
control_path_dir = /tmp/ajb-cp
""")
    d = "{{ bench_dir }}"
    tasks: list[dict[str, Any]] = [
        {"name": "conf dir", "file": {"path": f"{d}/conf", "state": "directory"}},
        {"name": "app.conf", "copy": {"content": APP_CONF, "dest": f"{d}/conf/app.conf", "mode": "0644"}},
        {"name": "app.env", "copy": {"content": APP_ENV, "dest": f"{d}/conf/app.env", "mode": "0600"}},
        {"name": "motd", "copy": {"src": "files/motd.txt", "dest": f"{d}/motd.txt", "mode": "0644"}},
        {"name": "nginx.conf", "template": {"src": "templates/nginx.conf.j2", "dest": f"{d}/conf/nginx.conf", "mode": "0644"}},
        {"name": "app.ini", "template": {"src": "templates/app.ini.j2", "dest": f"{d}/conf/app.ini", "mode": "0644"}},
        {"name": "stat", "stat": {"path": f"{d}/conf/app.conf"}, "register": "st"},
        {"name": "read", "command": f"cat {d}/conf/app.conf", "changed_when": False},
        {"name": "marker", "command": {"cmd": f"touch {d}/done.marker", "creates": f"{d}/done.marker"}},
        {"name": "wait marker", "wait_for": {"path": f"{d}/done.marker", "timeout": 10}},
    ]
    play = lambda t: [{"hosts": "all", "gather_facts": False, "tasks": t}]  # noqa: E731
    (base / "tenstep.yml").write_text(json.dumps(play(tasks), indent=1))
    for count in (1, 50):
        trivial = [{"name": f"t{k}", "command": "true"} for k in range(count)]
        (base / f"trivial{count}.yml").write_text(json.dumps(play(trivial), indent=1))


# pyinfra ------------------------------------------------------------------------------
def _pyinfra_inventory(work: Path, sshd: Any, n: int) -> None:
    hosts = [
        (f"127.0.0.{i}", {
            "ssh_user": f"ajtest{i:02d}", "ssh_port": sshd.port, "ssh_key": str(sshd.client_key),
            "ssh_known_hosts_file": str(sshd.known_hosts), "ssh_strict_host_key_checking": "yes",
            "ports": PORTS, **host_vars(i, "pyinfra"),
        })
        for i in range(1, n + 1)
    ]
    (work / "pyinfra" / f"inventory_{n}.py").write_text(f"hosts = {hosts!r}\n")


def _pyinfra_deploys(work: Path) -> None:
    base = work / "pyinfra"
    (base / "tenstep.py").write_text(f"""\
from io import StringIO
from pyinfra import host
from pyinfra.operations import files, server

d = host.data.bench_dir
v = dict(node_name=host.data.node_name, ports=host.data.ports, listen_port=host.data.listen_port)
files.directory(name="conf dir", path=f"{{d}}/conf", present=True)
files.put(name="app.conf", src=StringIO({APP_CONF!r}), dest=f"{{d}}/conf/app.conf", mode="644")
files.put(name="app.env", src=StringIO({APP_ENV!r}), dest=f"{{d}}/conf/app.env", mode="600")
files.put(name="motd", src="files/motd.txt", dest=f"{{d}}/motd.txt", mode="644")
files.template(name="nginx.conf", src="templates/nginx.conf.j2", dest=f"{{d}}/conf/nginx.conf", mode="644", **v)
files.template(name="app.ini", src="templates/app.ini.j2", dest=f"{{d}}/conf/app.ini", mode="644", **v)
server.shell(name="stat", commands=[f"stat -c %s {{d}}/conf/app.conf"])
server.shell(name="read", commands=[f"cat {{d}}/conf/app.conf"])
server.shell(name="marker", commands=[f"test -e {{d}}/done.marker || touch {{d}}/done.marker"])
server.shell(name="wait marker", commands=[f"test -e {{d}}/done.marker"])
""")
    for count in (1, 50):
        lines = [f'server.shell(name="t{k}", commands=["true"])' for k in range(count)]
        (base / f"trivial{count}.py").write_text("from pyinfra.operations import server\n" + "\n".join(lines) + "\n")
