"""Fast checks without Docker: revision numbering, override, settings, certificates, arguments."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from ajudaplay import certs
from ajudaplay.actions.service import IMAGE_RE, parse_env_file
from ajudaplay.errors import InvalidInput, TargetError, UnknownService
from ajudaplay.targets.compose.cli import Container, normalize_image
from ajudaplay.targets.compose.health import _verdict
from ajudaplay.targets.compose.settings import ComposeSettings, project_name_for
from ajudaplay.targets.compose.state import Override, RevisionStore, compose_version
from tests.compose.conftest import make_cert


def test_revisions_follow_kubectl_numbering() -> None:
    store = RevisionStore()
    for image in ("a:1", "a:2", "a:1"):  # deploy 1, deploy 2, roll back to 1
        store.record("api", image, "run", "me", "deploy")
    assert [(r.revision, r.image) for r in store.history("api")] == [(2, "a:2"), (3, "a:1")]
    assert store.previous("api").image == "a:2"  # type: ignore[union-attr]
    again = RevisionStore.parse(store.dump(), "t")
    assert again.history("api") == store.history("api")


def test_intent_is_pending_until_committed_or_aborted() -> None:
    store = RevisionStore()
    store.record("api", "a:1", "run", "me", "deploy")
    failed = store.begin("api", "a:2", "r2", "me", "deploy")
    assert store.pending("api") is failed and store.current("api").image == "a:1"  # type: ignore[union-attr]
    store.abort(failed, "up failed")
    assert store.pending("api") is None and [r.image for r in store.history("api")] == ["a:1"]
    ok = store.commit("api", store.begin("api", "a:3", "r3", "me", "deploy"))
    assert (ok.revision, ok.status) == (3, "committed")
    assert [r.revision for r in store.entries("api")] == [1, 3]  # the aborted attempt goes with the next commit
    same = store.commit("api", store.begin("api", "a:3", "r4", "me", "deploy"))
    assert same is ok and [r.revision for r in store.entries("api")] == [1, 3]  # same image: same revision
    old = RevisionStore.parse(b'{"version": 1, "services": {"api": [{"revision": 1, "image": "a:1", '
                              b'"time": "t", "run_id": "r", "user": "u", "cause": "deploy"}]}}', "t")
    assert old.current("api").status == "committed"  # type: ignore[union-attr]


def test_corrupt_revisions_file_is_a_clear_error() -> None:
    with pytest.raises(TargetError, match="revision history is corrupt"):
        RevisionStore.parse(b"{not json", "target 'x'")


def test_override_keeps_the_user_files_version() -> None:
    version = compose_version(b'# c\nversion: "2.4"  # v1 needs it\nservices: {}\n')
    override = Override(version).with_image("api", "a:2").with_env_file("api", "/p/.ajudaplay/env/api.env")
    parsed = Override.parse(override.dump(), "t")
    assert parsed.version == "2.4" and parsed.image("api") == "a:2"
    assert parsed.services["api"]["env_file"] == ["/p/.ajudaplay/env/api.env"]


def test_settings_and_unknown_service() -> None:
    s = ComposeSettings.from_spec("box", {"project_dir": "/opt/My App/"}, {"api": {"service": "web"}})
    assert s.project_name == project_name_for("/opt/My App") == "myapp"
    assert s.service("api").compose == "web" and s.path("certs/x") == "/opt/My App/certs/x"
    with pytest.raises(UnknownService, match="the inventory defines: api"):
        s.service("nope")
    with pytest.raises(TargetError, match="absolute path"):
        ComposeSettings.from_spec("box", {"project_dir": "relative"}, {})


@pytest.mark.parametrize(
    ("ref", "ok"),
    [("ajudaplay-test/api:v1", True), ("registry.example:5000/a/b:1.2.3", True), ("api@sha256:" + "a" * 64, True),
     ("Bad::Image", False), ("api:", False), ("API:v1", False), ("a b", False)],
)
def test_image_reference_grammar(ref: str, ok: bool) -> None:
    assert bool(IMAGE_RE.match(ref)) is ok


def test_normalize_image() -> None:
    assert normalize_image("docker.io/library/nginx") == normalize_image("nginx:latest") == "nginx:latest"


def test_env_file_parsing_never_echoes_values() -> None:
    assert parse_env_file("# c\nexport A=1\nB='two words'\n\n", "f") == {"A": "1", "B": "two words"}
    with pytest.raises(TargetError) as err:
        parse_env_file("not-a-pair-s3cr3t\n", "f.env")
    assert "s3cr3t" not in str(err.value) and "f.env:1" in str(err.value)


def _c(name: str, image: str, status: str = "running", health: str | None = "healthy") -> Container:
    return Container(name, name, image, status, 137 if status == "exited" else 0, health, "", 0, "", 1)


def test_health_verdicts() -> None:
    assert _verdict([_c("a", "x:1")], "x:1", 1)[0] is True
    assert _verdict([_c("a", "x:1", health="starting")], "x:1", 1)[:2] == (False, None)
    assert "exited with code 137" in (_verdict([_c("a", "x:1", "exited")], "x:1", 1)[1] or "")
    assert "unhealthy" in (_verdict([_c("a", "x:1", health="unhealthy")], "x:1", 1)[1] or "")
    assert _verdict([_c("a", "x:1"), _c("b", "x:0")], "x:1", 1)[0] is False  # old container still there


def test_certificate_checks(tmp_path: Path) -> None:
    cert, key = make_cert(tmp_path, "good", days=30)
    info = certs.validate_pair(cert.read_bytes(), key.read_bytes(), "good.crt", "good.key")
    assert info.days_left() in (29, 30)
    assert certs.check_min_days(info, 10, "x") is None
    assert "fewer than min_days=45" in (certs.check_min_days(info, 45, "x") or "")
    other_cert, _ = make_cert(tmp_path, "other", days=30)
    with pytest.raises(InvalidInput, match="does not match"):
        certs.validate_pair(other_cert.read_bytes(), key.read_bytes(), "other.crt", "good.key")
    old, old_key = make_cert(tmp_path, "old", days=-2)
    with pytest.raises(InvalidInput, match="expired on"):
        certs.validate_pair(old.read_bytes(), old_key.read_bytes(), "old.crt", "old.key")
    later = dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=31)
    assert info.expired(later)
    with pytest.raises(InvalidInput, match="not a PEM certificate"):
        certs.load_certificate(b"garbage", "x.crt")
