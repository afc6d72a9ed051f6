"""Inventories: the documented format, variable layering, secrets, host patterns, `-i` resolution."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from ajudaplay.errors import InvalidInput
from ajudaplay.inventory.loader import load_inventory, resolve_inventory_arg
from ajudaplay.inventory.model import Inventory
from ajudaplay.inventory.patterns import select_targets
from ajudaplay.inventory.vars import vars_for

HERE = Path(__file__).parent
GOOD = HERE / "good"
PATTERNS = yaml.safe_load((HERE / "patterns.yml").read_text())


@pytest.fixture(scope="module")
def inventory() -> Inventory:
    return load_inventory(GOOD / "inventory" / "prod.yml")


def test_targets_and_connections(inventory: Inventory) -> None:
    assert list(inventory.targets) == ["cluster", "small-install", "web1", "web2", "in-pod"]
    cluster = inventory.targets["cluster"]
    assert cluster.kind == "kubernetes"
    assert cluster.connection == {
        "context": "prod", "namespace": "ajudadorabot-production",
        "kubeconfig": str(Path("~/.kube/config").expanduser()), "in_cluster": False,
    }
    assert cluster.services["api"]["hpa"] == "ajudadorabot-api-hpa"
    small = inventory.targets["small-install"]
    assert small.kind == "compose" and small.connection["host"] == "ssh://deploy@10.0.0.5:22"
    assert small.connection["key"] == str(GOOD / "inventory" / "keys" / "id_ed25519")  # relative to the inventory
    assert small.connection["project_dir"] == "/opt/ajudadorabot"
    web1 = inventory.targets["web1"]
    assert web1.kind == "host"
    assert web1.connection == {
        "host": "ssh://deploy@10.0.0.7", "host_key_check": True,
        "key": str(Path("~/.ssh/id_ed25519").expanduser()),
    }
    assert inventory.targets["web2"].connection == {"host": "@local", "host_key_check": True}
    assert inventory.targets["in-pod"].connection == {"in_cluster": True, "namespace": "ops"}
    assert inventory.name == "prod"
    assert set(inventory.groups["all"].targets) == set(inventory.targets)


def test_variable_layering(inventory: Inventory) -> None:
    """inventory < all < groups by depth (parents first) then name < target; magic variables last."""
    web1 = vars_for(inventory, "web1")
    assert web1["x"] == "target"  # target wins
    assert web1["y"] == "edge"  # all-prod and edge are both depth 1: sorted by name, edge comes later
    assert web1["z"] == "from-all"
    assert web1["groups"] == ["all-prod", "edge", "web"]
    assert (web1["inventory_name"], web1["target_name"], web1["target_kind"]) == ("prod", "web1", "host")
    web2 = vars_for(inventory, "web2")
    assert web2["x"] == "web"  # child group `web` (depth 2) beats its parent `edge` (depth 1)
    cluster = vars_for(inventory, "cluster")
    assert cluster["x"] == "all-prod" and cluster["groups"] == ["all-prod", "api"]
    assert vars_for(inventory, "in-pod")["x"] == "inventory"


def test_vars_for_returns_copies(inventory: Inventory) -> None:
    vars_for(inventory, "cluster")["db"]["password"] = "changed"
    assert vars_for(inventory, "cluster")["db"]["password"] == "pw-cluster-db"


def test_secrets_collected_for_the_redactor(inventory: Inventory) -> None:
    assert {"s3cr3t-db", "abc def ghi", "tg-0123456789", "pw-cluster-db"} <= set(inventory.secret_values)
    assert "https://ajudadorabot.example/health" not in inventory.secret_values
    assert {"DB_PASSWORD", "API_KEY", "telegram_token", "db"} <= inventory.secret_names
    assert vars_for(inventory, "web2")["DB_PASSWORD"] == "s3cr3t-db"


@pytest.mark.parametrize("pattern", sorted(PATTERNS))
def test_host_patterns(inventory: Inventory, pattern: str) -> None:
    assert select_targets(inventory, pattern) == PATTERNS[pattern]


@pytest.mark.parametrize(("pattern", "fragment"), [
    ("apii", "did you mean 'api'?"),
    ("api:!wbe1", "unknown target or group 'wbe1' in pattern 'api:!wbe1'"),
    ("db*", "'db*' matches no target or group"),
    ("", "empty host pattern"),
])
def test_unknown_names_in_patterns_are_errors(inventory: Inventory, pattern: str, fragment: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        select_targets(inventory, pattern)
    assert fragment in str(caught.value)


def test_resolve_inventory_arg(tmp_path: Path) -> None:
    (tmp_path / "inventory").mkdir()
    (tmp_path / "inventory" / "prod.yml").write_text("targets: {}\n")
    (tmp_path / "inventory" / "staging.yaml").write_text("targets: {}\n")
    assert resolve_inventory_arg("prod", tmp_path) == tmp_path / "inventory" / "prod.yml"
    assert resolve_inventory_arg("staging", tmp_path) == tmp_path / "inventory" / "staging.yaml"
    assert resolve_inventory_arg("inventory/prod.yml", tmp_path) == tmp_path / "inventory" / "prod.yml"
    assert resolve_inventory_arg(str(tmp_path / "inventory" / "prod.yml"), Path("/")) == tmp_path / "inventory" / "prod.yml"
    with pytest.raises(InvalidInput) as caught:
        resolve_inventory_arg("nope", tmp_path)
    text = str(caught.value)
    assert "no inventory 'nope'" in text and "environments found in ./inventory/: prod, staging" in text
    with pytest.raises(InvalidInput, match="did you mean 'prod'"):
        resolve_inventory_arg("prd", tmp_path)


def test_resolve_inventory_arg_without_folder(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="no ./inventory/ folder"):
        resolve_inventory_arg("prod", tmp_path)


def test_env_file_lines(tmp_path: Path) -> None:
    (tmp_path / "bad.env").write_text("GOOD=1\nthis line has the-secret-value\n")
    inv = tmp_path / "inv.yml"
    inv.write_text("secrets: {env_file: bad.env}\ntargets: {t: {host: '@local'}}\n")
    with pytest.raises(InvalidInput) as caught:
        load_inventory(inv)
    text = str(caught.value)
    assert f"{tmp_path / 'bad.env'}:2:1: expected KEY=VALUE" in text
    assert "the-secret-value" not in text  # a malformed line may hold a secret
