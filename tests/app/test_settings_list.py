"""The settings list is the one truth: every field documented, every CRAYON_* a field, and
a bad value for each stops the start with a message naming the variable (the model is
Datasette's test that its settings table and docs agree)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import fields
from pathlib import Path

import pytest

from app.auth.secret_source import UNUSED_SECRET_VARIABLES
from app.settings import Settings, SettingsError

ROOT = Path(__file__).resolve().parents[2]
DOC = (ROOT / "docs" / "configuration.md").read_text(encoding="utf-8")
CRAYON = str(Path(sys.executable).with_name("crayon"))
_NAME = re.compile(r"\bCRAYON_[A-Z0-9_]*[A-Z0-9]\b")

# Variables that are not the app's: the image build and the host test kit read them.
NOT_APP_SETTINGS = {
    "CRAYON_IMAGE_MAX_MB",  # docs/image.md: the image size gate in the build
    "CRAYON_CGROUP_BIND",  # docs/deploy-host.md: the podman test host
    "CRAYON_HOST_PORT",  # docs/deploy-host.md: the podman test host
    "CRAYON_ADMIN_PASSWORD_HASH",  # docs/deploy-aws.md: the deploy's input for the secret
}

# One value per field that must stop the start. Free-text fields (names, ids, secrets, paths)
# have no wrong spelling and are listed in FREE_TEXT instead; the test needs one or the other.
BAD = {
    "CRAYON_ENV": "staging",
    "CRAYON_PORT": "eighty",
    "CRAYON_SESSION_IDLE_MINUTES": "0",
    "CRAYON_SESSION_ABSOLUTE_HOURS": "10000",
    "CRAYON_LOGIN_ATTEMPTS_PER_CLIENT": "five",
    "CRAYON_LOGIN_ATTEMPTS_GLOBAL": "0",
    "CRAYON_LOGIN_WINDOW_SECONDS": "-1",
    "CRAYON_MAX_UPLOAD_MB": "11",
    "CRAYON_ANOMALY_THRESHOLD": "1.5",
    "CRAYON_SOURCE_URL": "github.com/crayon",
    "CRAYON_REPLICA_URL": "http://bucket/db",
    "CRAYON_REPLICA_SYNC_INTERVAL": "1 second",
    "CRAYON_DURABLE_WRITES": "sometimes",
    "CRAYON_RELOAD": "maybe",
    "CRAYON_LOG_LEVEL": "LOUD",
    "CRAYON_TRUSTED_PROXY_HOPS": "9",
    "CRAYON_FORWARDED_ALLOW_IPS": "10.0.0.300/16",
    "CRAYON_LOGIN_HASH_CONCURRENCY": "0",
    "CRAYON_LOGIN_HASH_QUEUE": "many",
    "CRAYON_MEMORY_BUDGET_MB": "32",
    "CRAYON_HEARTBEAT_SECONDS": "0",
    "CRAYON_METRICS_FLUSH_SECONDS": "soon",
    "CRAYON_SSE_HEARTBEAT_SECONDS": "0",
    "CRAYON_DURABLE_TIMEOUT": "0",
    "CRAYON_REPLICATION_STALE_S": "-5",
    "CRAYON_REPLICA_VERIFY_S": "x",
    "CRAYON_RESTORE_TIMEOUT": "0",
    "CRAYON_LITESTREAM_LOCK_FD": "three",
    "CRAYON_REPLICATED_CHILD": "perhaps",
    "CRAYON_HEADER_TIMEOUT_SECONDS": "0",
    "CRAYON_KEEP_ALIVE_SECONDS": "1000",
    "CRAYON_MAX_HEADER_BYTES": "100",
    "CRAYON_LIMIT_CONCURRENCY": "1",
    "CRAYON_MAX_EVENT_STREAMS": "0",
    "CRAYON_MAX_CONNECTIONS": "10",
    "CRAYON_BACKLOG": "many",
    "CRAYON_ALLOWED_HOSTS": "https://example.org/",
    "CRAYON_PUBLIC_URL": "example.org",
    "CRAYON_READY_CACHE_SECONDS": "-1",
    "AWS_ENDPOINT_URL": "127.0.0.1:5000",
}
FREE_TEXT = {
    "CRAYON_HOST",
    "CRAYON_DATA_DIR",
    "CRAYON_S3_BUCKET",
    "CRAYON_S3_PREFIX",
    "CRAYON_ADMIN_PASSWORD",
    "CRAYON_ADMIN_SECRET_ID",
    "CRAYON_SESSION_KEY",
    "CRAYON_SESSION_SECRET_ID",
    "CRAYON_ORIGIN_SECRET",
    "CRAYON_ORIGIN_SECRET_ID",
    "CRAYON_LITESTREAM_BIN",
    "CRAYON_LITESTREAM_CONFIG",
    "CRAYON_LITESTREAM_SOCKET",
    "AWS_REGION",
}


def _documented_rows() -> set[str]:
    """Variables that have a row of their own in the table of docs/configuration.md."""
    rows = re.findall(r"^\| `([A-Z0-9_]+)`", DOC, flags=re.MULTILINE)
    return set(rows)


def test_every_field_is_documented_by_its_variable() -> None:
    variables = Settings.variables()
    assert len(set(variables.values())) == len(variables), "two fields read one variable"
    missing = sorted(set(variables.values()) - _documented_rows())
    assert not missing, f"not in docs/configuration.md's table: {missing}"


def test_every_crayon_variable_in_docs_and_code_is_a_field() -> None:
    # Plus the secret-bearing variables the app deliberately does not read but warns about
    # when set (app/auth/secret_source.py): documented and named in code, never a setting.
    known = set(Settings.variables().values()) | set(UNUSED_SECRET_VARIABLES)
    documented = set(_NAME.findall(DOC))
    assert not documented - known, f"documented but not settings: {documented - known}"
    in_code: dict[str, set[str]] = {}
    for path in (ROOT / "app").rglob("*.py"):
        for name in _NAME.findall(path.read_text(encoding="utf-8")):
            in_code.setdefault(name, set()).add(str(path.relative_to(ROOT)))
    stray = {n: sorted(p) for n, p in in_code.items() if n not in known}
    assert not stray, f"CRAYON_* names in app/ that are not settings: {stray}"
    # Elsewhere in the docs only the deploy kit's own variables may appear.
    for page in (ROOT / "docs").glob("*.md"):
        names = set(_NAME.findall(page.read_text(encoding="utf-8")))
        assert not names - known - NOT_APP_SETTINGS, (page.name, names - known)


def test_no_module_reads_crayon_variables_from_the_environment_itself() -> None:
    reads = re.compile(r"(os\.environ(\.get)?|os\.getenv)\(?\[?\s*[\"']CRAYON_")
    offenders = [
        str(p.relative_to(ROOT))
        for p in (ROOT / "app").rglob("*.py")
        if reads.search(p.read_text(encoding="utf-8"))
    ]
    assert not offenders
    assert not hasattr(Settings(), "extra")


def test_every_field_has_a_bad_value_or_is_free_text() -> None:
    variables = set(Settings.variables().values())
    assert variables == set(BAD) | FREE_TEXT, variables ^ (set(BAD) | FREE_TEXT)
    assert not set(BAD) & FREE_TEXT


@pytest.mark.parametrize("variable", sorted(BAD))
def test_a_bad_value_stops_the_start_naming_the_variable(tmp_path: Path, variable: str) -> None:
    with pytest.raises(SettingsError) as info:
        Settings.from_env({variable: BAD[variable]}, env_file=None)
    assert variable in str(info.value)


def test_each_field_is_read_from_its_variable(tmp_path: Path) -> None:
    good = {
        "CRAYON_HEARTBEAT_SECONDS": ("7", 7),
        "CRAYON_SSE_HEARTBEAT_SECONDS": ("0.5", 0.5),
        "CRAYON_DURABLE_TIMEOUT": ("2", 2.0),
        "CRAYON_LITESTREAM_SOCKET": ("/run/ls.sock", "/run/ls.sock"),
        "CRAYON_ALLOWED_HOSTS": ("a.example, B.example", ("a.example", "b.example")),
        "CRAYON_PUBLIC_URL": ("https://a.example/", "https://a.example"),
        "AWS_DEFAULT_REGION": ("eu-west-1", "eu-west-1"),
        "CRAYON_FORWARDED_ALLOW_IPS": (" 10.0.0.0/16, *", "10.0.0.0/16,*"),
        "CRAYON_LOGIN_HASH_QUEUE": ("0", 0),
        "CRAYON_MEMORY_BUDGET_MB": ("256", 256),
        "CRAYON_ORIGIN_SECRET_ID": ("crayon/origin", "crayon/origin"),
    }
    s = Settings.from_env({k: v for k, (v, _) in good.items()}, env_file=None)
    by_var = {v: k for k, v in Settings.variables().items()} | {"AWS_DEFAULT_REGION": "aws_region"}
    for var, (_, expected) in good.items():
        assert getattr(s, by_var[var]) == expected, var


def test_crayon_serve_refuses_a_bad_value_in_a_former_extra_setting(tmp_path: Path) -> None:
    # These were parsed ad hoc and silently fell back to a default before.
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("CRAYON_", "AWS_"))}
    result = subprocess.run(
        [CRAYON, "serve"],
        cwd=tmp_path,
        env={**clean, "CRAYON_HEARTBEAT_SECONDS": "often"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert "CRAYON_HEARTBEAT_SECONDS" in result.stderr and "Traceback" not in result.stderr


def test_fields_are_typed() -> None:
    for f in fields(Settings):
        assert f.type not in ("Any", "object"), f.name


def test_a_misspelt_variable_is_named_as_unknown() -> None:
    env = {"CRAYON_PORT": "8001", "CRAYON_HEARTBEAT_SECOND": "5", "HOME": "/root"}
    assert Settings.unknown_variables(env) == ["CRAYON_HEARTBEAT_SECOND"]
