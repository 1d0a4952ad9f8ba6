"""Settings: env parsing, .env, local vs production, and clear refusals (never a traceback)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from app.settings import Settings, SettingsError

CRAYON = str(Path(sys.executable).with_name("crayon"))


def test_defaults_are_local_and_need_no_aws(tmp_path: Path) -> None:
    s = Settings.from_env({}, env_file=tmp_path / "missing.env")
    assert s.env == "local" and not s.is_production
    assert s.port == 8000 and s.storage_backend == "local" and not s.cookie_secure
    assert s.session_idle_minutes == 30 and s.session_absolute_hours == 8


def test_env_file_is_read_and_the_environment_wins(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text(
        "# a comment\n"
        "CRAYON_PORT=8123\n"
        "export CRAYON_ADMIN_PASSWORD='from the file'\n"
        'CRAYON_SESSION_IDLE_MINUTES="15"\n'
        "CRAYON_LOG_LEVEL=debug\n"
    )
    s = Settings.from_env({"CRAYON_PORT": "9000"}, env_file=env_file)
    assert s.port == 9000
    assert s.admin_password == "from the file"
    assert s.session_idle_minutes == 15 and s.log_level == "DEBUG"


@pytest.mark.parametrize(
    ("env", "words"),
    [
        ({"CRAYON_ENV": "staging"}, ["CRAYON_ENV", "local", "production"]),
        ({"CRAYON_PORT": "eighty"}, ["CRAYON_PORT", "whole number"]),
        ({"CRAYON_PORT": "70000"}, ["CRAYON_PORT", "out of range"]),
        ({"CRAYON_SESSION_IDLE_MINUTES": "0"}, ["CRAYON_SESSION_IDLE_MINUTES", "out of range"]),
        ({"CRAYON_DURABLE_WRITES": "maybe"}, ["CRAYON_DURABLE_WRITES", "boolean"]),
        ({"CRAYON_ANOMALY_THRESHOLD": "2"}, ["CRAYON_ANOMALY_THRESHOLD", "0.0..1.0"]),
        ({"CRAYON_LOG_LEVEL": "loud"}, ["CRAYON_LOG_LEVEL"]),
        ({"CRAYON_REPLICA_URL": "https://x/y"}, ["CRAYON_REPLICA_URL", "s3://"]),
        ({"CRAYON_ENV": "production"}, ["CRAYON_S3_BUCKET", "CRAYON_ADMIN_SECRET_ID"]),
        (
            {
                "CRAYON_ENV": "production",
                "CRAYON_S3_BUCKET": "crayon-data",
                "CRAYON_ADMIN_SECRET_ID": "crayon/admin",
                "CRAYON_ADMIN_PASSWORD": "plain",
                "CRAYON_DATA_DIR": "/srv/crayon",
            },
            ["CRAYON_ADMIN_PASSWORD", "local use only"],
        ),
        ({"CRAYON_S3_BUCKET": "crayon-prod-data"}, ["looks like a production", "never mix"]),
        (
            {
                "CRAYON_ENV": "production",
                "CRAYON_S3_BUCKET": "crayon-dev-data",
                "CRAYON_ADMIN_SECRET_ID": "crayon/admin",
                "CRAYON_DATA_DIR": "/srv/crayon",
            },
            ["looks like a local", "never mix"],
        ),
        (
            {
                "CRAYON_ENV": "production",
                "CRAYON_S3_BUCKET": "crayon-data",
                "CRAYON_ADMIN_SECRET_ID": "crayon/admin",
                "CRAYON_DATA_DIR": "data/local",
            },
            ["local development folder"],
        ),
        ({"CRAYON_DATA_DIR": "/var/lib/crayon"}, ["production data folder"]),
    ],
)
def test_invalid_settings_are_refused_with_a_clear_message(
    tmp_path: Path, env: dict[str, str], words: list[str]
) -> None:
    with pytest.raises(SettingsError) as info:
        Settings.from_env(env, env_file=tmp_path / "none.env")
    for word in words:
        assert word in str(info.value), (word, str(info.value))


def test_production_settings_that_are_complete_pass(tmp_path: Path) -> None:
    s = Settings.from_env(
        {
            "CRAYON_ENV": "production",
            "CRAYON_S3_BUCKET": "crayon-data-prod",
            "CRAYON_ADMIN_SECRET_ID": "crayon/admin",
            "CRAYON_DATA_DIR": str(tmp_path),
            "CRAYON_PUBLIC_URL": "https://crayon.example.org",
        },
        env_file=None,
    )
    assert s.hosts == ("crayon.example.org",)
    assert s.is_production and s.cookie_secure and s.storage_backend == "s3"
    assert not s.host_unpinned


def test_production_without_a_public_url_or_hosts_starts_and_accepts_any_host(
    tmp_path: Path,
) -> None:
    # The deploy roles set neither yet; the start warns (tests/app/test_auth_secrets.py).
    s = Settings.from_env(
        {
            "CRAYON_ENV": "production",
            "CRAYON_S3_BUCKET": "crayon-data-prod",
            "CRAYON_ADMIN_SECRET_ID": "crayon/admin",
            "CRAYON_DATA_DIR": str(tmp_path),
        },
        env_file=None,
    )
    assert s.host_unpinned and s.hosts == ("*",)
    local = Settings.from_env({}, env_file=None)
    assert not local.host_unpinned and "*" not in local.hosts


def _crayon(args: list[str], cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("CRAYON_", "AWS_"))}
    return subprocess.run(
        [CRAYON, *args],
        cwd=cwd,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize(
    ("env", "words"),
    [
        ({"CRAYON_PORT": "eighty"}, "CRAYON_PORT='eighty' is not a whole number"),
        ({"CRAYON_ENV": "production"}, "Production needs CRAYON_S3_BUCKET"),
    ],
)
def test_crayon_serve_with_invalid_settings_exits_2_without_a_traceback(
    tmp_path: Path, env: dict[str, str], words: str
) -> None:
    result = _crayon(["serve"], tmp_path, **env)
    assert result.returncode == 2
    assert "crayon: invalid settings:" in result.stderr and words in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


def test_a_broken_env_file_is_reported_with_its_line(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("CRAYON_PORT=8000\nthis line has no equals sign\n")
    result = _crayon(["serve"], tmp_path)
    assert result.returncode == 2
    assert ".env:2: expected KEY=VALUE" in result.stderr
    assert "Traceback" not in result.stderr
