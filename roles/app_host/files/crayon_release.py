#!/usr/bin/python3
"""crayon-release: ship, roll back and pause the app on this host in one local step.

    crayon-release deploy PYZ VERSION   install, migrate, switch, restart, gate, roll back
    crayon-release deploy --sha256 HEX VERSION   the same with the release already installed
                                        (exit 3 when it is not: send the build)
    crayon-release deploy --check ...   what deploy would do; changes nothing
    crayon-release rollback [VERSION]   back to the release before the current one, or VERSION
    crayon-release list                 releases on the host, the current one, install times
    crayon-release status               version, units, /readyz, Litestream's lag
    crayon-release maintenance on|off   a 503 maintenance page instead of the app, and back

Every command prints one JSON object on stdout. Exit 0: done (or nothing to do); 1: it failed
(the object's "error" says why, and what was undone); 2: refused, nothing changed; 3: deploy
--sha256 of a release this host does not have (nothing changed).

Installed by the app_host role with its settings in ../release.json. Runs as root with the
host's python3 and its standard library only (Amazon Linux's python3 is 3.9): one process on
the host does what used to take dozens of Ansible round trips.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import http.client
import json
import os
import pwd
import re
import shutil
import subprocess
import sys
import time
import zipfile
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
CONFIG = Path(os.environ.get("CRAYON_RELEASE_CONFIG", str(HERE.parent / "release.json")))
VERSION_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]{0,63}$")
MIGRATED_RE = re.compile(r": (\S+) -> (\S+)")
# What decides the schema a build wants: when these members are the same in the new build and
# the one serving, `migrate` would do nothing and is skipped.
SCHEMA_MEMBERS = ("site-packages/migrations/", "site-packages/app/migrate.py")
META = "release.json"
QUIET = ('"logger":"crayon.access"', '"_aws":')


class Refused(Exception):
    """Nothing was changed; the message says what to do instead (exit 2)."""


class NeedBuild(Exception):
    """`deploy --sha256` of a version this host does not have: send the build (exit 3)."""


class Failed(Exception):
    """The step failed; `details` says what state the host was left in (exit 1)."""

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.details = details


def now_iso() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def run(*argv: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(argv), capture_output=True, text=True, timeout=timeout, check=False)


class Host:
    """This host's layout and units, from the role's release.json."""

    def __init__(self, cfg: dict[str, Any]) -> None:
        self.cfg = cfg
        self.app = cfg["app_name"]
        self.base = Path(cfg["base_dir"])
        self.releases = self.base / "releases"
        self.current = self.base / "current"
        self.pyz_name = cfg["pyz_name"]
        self.service = f"{self.app}.service"
        self.socket = f"{self.app}.socket"
        self.dropin = Path(f"/etc/systemd/system/{self.service}.d/50-maintenance.conf")

    # --- releases on disk -------------------------------------------------------------------

    def current_version(self) -> str | None:
        try:
            return Path(os.readlink(self.current)).name
        except OSError:
            return None

    def meta(self, version: str) -> dict[str, Any]:
        folder = self.releases / version
        try:
            data = json.loads((folder / META).read_text())
            if isinstance(data, dict):
                return data
        except (OSError, ValueError):
            pass
        pyz = folder / self.pyz_name
        installed = pyz.stat().st_mtime if pyz.exists() else folder.stat().st_mtime
        return {"installed_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(installed))}

    def versions(self) -> list[str]:
        """Installed releases, oldest first (by install time, then name)."""
        found = [
            p.name
            for p in self.releases.iterdir()
            if p.is_dir() and not p.name.startswith(".") and (p / self.pyz_name).is_file()
        ]
        return sorted(found, key=lambda v: (self.meta(v).get("installed_at", ""), v))

    def pyz(self, version: str) -> Path:
        return self.releases / version / self.pyz_name

    def switch(self, version: str) -> None:
        """Point `current` at the release atomically (a new link renamed over the old one)."""
        tmp = self.base / f".current-{os.getpid()}"
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        os.symlink(str(self.releases / version), str(tmp))
        os.replace(str(tmp), str(self.current))

    # --- the app ----------------------------------------------------------------------------

    def as_app(self, *argv: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
        """Run a command as the app user with the service's environment, as the role does."""
        c = self.cfg
        return run(
            "systemd-run",
            "--quiet",
            "--wait",
            "--pipe",
            "--collect",
            f"--property=User={c['user']}",
            f"--property=Group={c['group']}",
            f"--property=EnvironmentFile={c['env_file']}",
            f"--property=WorkingDirectory={c['data_dir']}",
            "--property=UMask=0077",
            "--",
            *argv,
            timeout=timeout,
        )

    def migrate(self, version: str, *extra: str) -> tuple[str, str]:
        """Migrate with that release's build; (revision before, revision after)."""
        out = self.as_app(self.cfg["python"], str(self.pyz(version)), "migrate", *extra)
        said = (out.stdout + out.stderr).strip()
        if out.returncode != 0:
            raise Failed(f"migrations of {version} failed (exit {out.returncode}): {said[-1500:]}")
        found = MIGRATED_RE.search(out.stdout)
        return (found.group(1), found.group(2)) if found else ("empty", "empty")

    def probe(self) -> tuple[int, Any]:
        """GET the readiness path once: (HTTP status or 0, the body as JSON or text)."""
        c = self.cfg
        conn = http.client.HTTPConnection(c["probe_host"], int(c["port"]), c["probe_timeout"])
        try:
            conn.request("GET", c["ready_path"], headers=self.probe_headers())
            response = conn.getresponse()
            raw = response.read()
        except (OSError, http.client.HTTPException) as exc:
            return 0, f"{type(exc).__name__}: {exc}"
        finally:
            conn.close()
        try:
            return response.status, json.loads(raw)
        except ValueError:
            return response.status, raw[:300].decode(errors="replace")

    def probe_headers(self) -> dict[str, str]:
        """The origin secret CloudFront sends, read from the env file (never from release.json)."""
        secret = read_env_file(Path(self.cfg["env_file"])).get("CRAYON_ORIGIN_SECRET", "")
        return {"Connection": "close"} | ({"X-Origin-Verify": secret} if secret else {})

    def wait_ready(self, timeout: float) -> tuple[bool, str]:
        deadline = time.monotonic() + timeout
        last = "no answer yet"
        while True:
            status, body = self.probe()
            if status == 200:
                return True, "ready"
            last = f"HTTP {status}: {json.dumps(body)[:400]}" if status else str(body)
            if time.monotonic() >= deadline:
                return False, last
            time.sleep(self.cfg["ready_poll"])

    def systemctl(self, *argv: str) -> subprocess.CompletedProcess[str]:
        return run("systemctl", *argv, timeout=120)

    def start_units(self) -> None:
        """The socket listens and Litestream runs; enabled at boot on a first release."""
        units = [self.socket] + (["litestream.service"] if self.cfg["litestream"] else [])
        for unit in [*units, self.service]:
            if self.systemctl("is-enabled", "--quiet", unit).returncode != 0:
                self.systemctl("enable", "--quiet", unit)
        started = self.systemctl("start", *units)
        if started.returncode != 0:
            raise Failed(f"could not start {' '.join(units)}: {started.stderr.strip()}")

    def restart_app(self) -> subprocess.CompletedProcess[str]:
        # A build that crashed before may have used up the start limit: clear it first.
        self.systemctl("reset-failed", self.service)
        return self.systemctl("restart", self.service)

    def journal(self, since: float, keep: int = 20) -> list[str]:
        out = run(
            "journalctl",
            "--no-pager",
            "-o",
            "short-iso",
            f"--since=@{int(since)}",
            "-u",
            self.service,
            timeout=30,
        )
        lines = [line for line in out.stdout.splitlines() if not any(q in line for q in QUIET)]
        return lines[-keep:]

    def maintenance_on(self) -> bool:
        return self.dropin.exists()

    def unit_state(self, unit: str) -> str:
        return self.systemctl("is-active", unit).stdout.strip() or "unknown"


class Laps:
    """Seconds per step of a release, for the operator (where did the time go)."""

    def __init__(self) -> None:
        self.last = time.monotonic()
        self.laps: dict[str, float] = {}

    def lap(self, name: str) -> None:
        now = time.monotonic()
        self.laps[name] = round(now - self.last, 2)
        self.last = now


def read_env_file(path: Path) -> dict[str, str]:
    """KEY=VALUE lines as the role writes them (values JSON-quoted)."""
    values: dict[str, str] = {}
    try:
        text = path.read_text()
    except OSError:
        return values
    for line in text.splitlines():
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, value = line.split("=", 1)
        if value.startswith('"'):
            with contextlib.suppress(ValueError):
                value = json.loads(value)
        values[key] = value
    return values


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def build_id(pyz: Path) -> str:
    try:
        with zipfile.ZipFile(pyz) as z:
            return str(json.loads(z.read("environment.json"))["build_id"])
    except (OSError, KeyError, ValueError, zipfile.BadZipFile) as exc:
        raise Refused(
            f"{pyz} is not a single-file build of the app ({exc}): build it with `make dist`."
        ) from exc


@contextlib.contextmanager
def locked(host: Host) -> Any:
    """One release step at a time on this host."""
    with open(host.base / ".release.lock", "w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            raise Refused(
                "another crayon-release is running on this host: wait for it and try again."
            ) from exc
        yield


# --- deploy -----------------------------------------------------------------------------------


def members(pyz: Path) -> dict[str, tuple[int, int]]:
    """Zip member name -> (CRC32, size), read from the central directory (no unpacking)."""
    with zipfile.ZipFile(pyz) as z:
        return {i.filename: (i.CRC, i.file_size) for i in z.infolist()}


def same_schema(new: dict[str, tuple[int, int]], old: dict[str, tuple[int, int]]) -> bool:
    def pick(m: dict[str, tuple[int, int]]) -> dict[str, tuple[int, int]]:
        return {k: v for k, v in m.items() if k.startswith(SCHEMA_MEMBERS)}

    return bool(pick(new)) and pick(new) == pick(old)


def unpack(host: Host, version: str, previous: str | None) -> int:
    """Unpack the build's dependencies where shiv looks for them (SHIV_ROOT/<pyz>_<build id>),
    hard-linking every file that is the same in the previous build, and its compiled .pyc:
    a new build then starts as fast as a restart of the old one. Returns files linked."""
    root = Path(host.cfg["shiv_root"])
    target = root / f"{host.pyz_name}_{build_id(host.pyz(version))}"
    if target.exists():
        return 0
    user = pwd.getpwnam(host.cfg["user"])
    old_dir, old = None, {}
    if previous and host.pyz(previous).is_file():
        old_dir = root / f"{host.pyz_name}_{build_id(host.pyz(previous))}"
        old = members(host.pyz(previous)) if old_dir.is_dir() else {}
    tmp = root / f".{target.name}.crayon-release"
    shutil.rmtree(tmp, ignore_errors=True)
    linked = 0
    made: set[Path] = set()
    pycs: dict[Path, list[str]] = {}

    def mkdirs(path: Path) -> None:
        if path not in made:
            if not path.is_dir():
                mkdirs(path.parent)
                path.mkdir(mode=0o700)
                os.chown(path, user.pw_uid, user.pw_gid)
            made.add(path)

    def compiled(folder: Path) -> list[str]:
        if folder not in pycs:
            try:
                pycs[folder] = os.listdir(folder / "__pycache__")
            except OSError:
                pycs[folder] = []
        return pycs[folder]

    mkdirs(tmp)
    with zipfile.ZipFile(host.pyz(version)) as z:
        for info in z.infolist():
            if not info.filename.startswith("site-packages/") or info.is_dir():
                continue
            dest = tmp / info.filename
            mkdirs(dest.parent)
            src = old_dir / info.filename if old_dir else None
            if src and old.get(info.filename) == (info.CRC, info.file_size):
                try:
                    os.link(src, dest)
                except OSError:
                    pass  # not unpacked there (or gone): unpack it below
                else:
                    linked += 1
                    # Same inode, same mtime: the old .pyc stays valid for it.
                    prefix = src.stem + "."
                    for name in compiled(src.parent) if src.suffix == ".py" else []:
                        if name.startswith(prefix) and name.endswith(".pyc"):
                            mkdirs(dest.parent / "__pycache__")
                            os.link(
                                src.parent / "__pycache__" / name,
                                dest.parent / "__pycache__" / name,
                            )
                    continue
            with z.open(info) as fin, open(dest, "wb") as fout:
                shutil.copyfileobj(fin, fout)
            os.chmod(dest, (info.external_attr >> 16) or 0o644)
            os.chown(dest, user.pw_uid, user.pw_gid)
    os.replace(tmp, target)
    return linked


def installed_digest(host: Host, version: str) -> str | None:
    """The sha256 of the release VERSION on this host, or None when it is not here."""
    if not host.pyz(version).is_file():
        return None
    return str(host.meta(version).get("sha256") or sha256(host.pyz(version)))


def install(host: Host, src: Path, version: str, digest: str) -> bool:
    """Copy the build into releases/VERSION once; whether it was new."""
    target = host.pyz(version)
    if target.exists():
        have = installed_digest(host, version) or ""
        if have != digest:
            raise Refused(
                f"version {version} is already on this host with different content "
                f"(sha256 {have[:12]}, this build {digest[:12]}). Releases are immutable so "
                f"a rollback gets back exactly what ran: give this build a new version."
            )
        return False
    bid = build_id(src)
    tmp = host.releases / f".{version}.{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(mode=0o755)
    shutil.copyfile(src, tmp / host.pyz_name)
    os.chmod(tmp / host.pyz_name, 0o644)
    meta = {"version": version, "sha256": digest, "build_id": bid, "installed_at": now_iso()}
    (tmp / META).write_text(json.dumps(meta) + "\n")
    os.replace(tmp, host.releases / version)
    return True


def update_meta(host: Host, version: str, **changes: Any) -> None:
    """Record facts about a release beside it (None removes one)."""
    meta = host.meta(version)
    new = {k: v for k, v in {**meta, **changes}.items() if v is not None}
    if new != meta:
        (host.releases / version / META).write_text(json.dumps(new) + "\n")


def deploy(
    host: Host,
    src_arg: str | None,
    version: str,
    *,
    digest: str | None = None,
    check: bool = False,
) -> dict[str, Any]:
    """Ship the build at `src_arg` as VERSION; without a build, the one already installed as
    VERSION whose sha256 is `digest` (NeedBuild when the host has no such release, so a caller
    sends the bytes only when they are needed). `check` says what would happen, changing
    nothing."""
    if not VERSION_RE.match(version):
        raise Refused(
            f"version {version!r} is not valid: use letters, digits, '.', '_', '+', '-' "
            f"(at most 64, starting with a letter or digit)."
        )
    if host.maintenance_on():
        raise Refused(
            "maintenance mode is on: run `crayon-release maintenance off` first, then deploy."
        )
    previous = host.current_version()
    if src_arg is None:
        if digest is None or not re.fullmatch(r"[0-9a-f]{64}", digest):
            raise Refused("deploy without a build needs --sha256 and the build's 64 hex digits.")
        have = installed_digest(host, version)
        if have is None and not check:
            raise NeedBuild(
                f"release {version} is not on this host: copy the build over and run "
                f"`crayon-release deploy PYZ {version}`."
            )
        src = host.pyz(version)
    else:
        src = Path(src_arg)
        if not src.is_file():
            raise Refused(f"no build at {src}: copy the pyz to the host first.")
        digest = digest or sha256(src)
        have = installed_digest(host, version)
    if have is not None and have != digest:
        raise Refused(
            f"version {version} is already on this host with different content "
            f"(sha256 {have[:12]}, this build {digest[:12]}). Releases are immutable so "
            f"a rollback gets back exactly what ran: give this build a new version."
        )
    if check:
        live = previous == version and host.probe()[0] == 200
        return {
            "ok": True,
            "changed": not live,
            "version": version,
            "previous": previous,
            "message": f"{version} is already live and ready; nothing to do."
            if live
            else f"would {'install and ' if have is None else ''}switch to {version} "
            f"(now {previous or 'nothing'}), migrate, restart behind the socket and gate "
            f"on readiness.",
        }
    started_wall, started = time.time(), time.monotonic()
    clock = Laps()
    timings = clock.laps
    lap = clock.lap

    assert digest is not None  # both branches above set it
    new = install(host, src, version, digest)
    lap("install")
    linked = unpack(host, version, previous)
    lap("unpack")
    if not new and previous == version:
        status, _ = host.probe()
        if status == 200:
            return {
                "ok": True,
                "changed": False,
                "version": version,
                "previous": previous,
                "message": f"{version} is already live and ready; nothing to do.",
            }
    before, after = "empty", "empty"
    skip_migrate = (
        previous is not None
        and previous != version
        and host.meta(previous).get("schema") is not None
        and same_schema(members(host.pyz(version)), members(host.pyz(previous)))
        and host.probe()[0] == 200
    )
    if skip_migrate:
        # The serving build is ready (so the database is at its head) and has the same
        # migrations: migrating would change nothing.
        update_meta(host, version, schema=host.meta(previous or version)["schema"])
    elif host.cfg["run_migrations"]:
        try:
            before, after = host.migrate(version)
        except Failed as exc:
            raise Failed(
                f"{exc}; nothing was switched"
                + (f": {previous} is still serving." if previous else "."),
                version=version,
                current=previous,
                rolled_back=False,
            ) from exc
        update_meta(host, version, schema=after)
    lap("migrate")
    host.switch(version)
    host.start_units()
    restarted = host.restart_app()
    lap("restart")
    ready, why = (
        host.wait_ready(host.cfg["ready_timeout"])
        if restarted.returncode == 0
        else (False, f"systemctl restart failed: {restarted.stderr.strip()}")
    )
    lap("ready")
    if ready:
        update_meta(host, version, failed_at=None)
        removed = prune(host, keep={version, previous or version})
        return {
            "ok": True,
            "changed": True,
            "version": version,
            "previous": previous,
            "sha256": digest,
            "migrated": f"{before} -> {after}" if before != after else None,
            "migrations_skipped": skip_migrate,
            "files_linked": linked,
            "seconds": round(time.monotonic() - started, 1),
            "timings": timings,
            "pruned": removed,
            "message": f"{version} is live (was {previous or 'nothing'}) after "
            f"{time.monotonic() - started:.1f} s on the host "
            f"({', '.join(f'{k} {v:.1f} s' for k, v in timings.items())}).",
        }
    journal = host.journal(started_wall)
    # A plain `rollback` never goes back to a release that failed its gate.
    update_meta(host, version, failed_at=now_iso())
    if not previous:
        raise Failed(
            f"the first release {version} did not become ready within "
            f"{host.cfg['ready_timeout']} s ({why}). There is no earlier release to roll back "
            f"to: read the journal below and `journalctl -u {host.service}`.",
            version=version,
            current=version,
            rolled_back=False,
            journal=journal,
        )
    host.systemctl("stop", host.service)
    undone = None
    if host.cfg["run_migrations"] and before != after and before != "empty":
        try:
            host.migrate(version, "--downgrade", before)
            undone = before
        except Failed as exc:
            undone = f"FAILED: {exc}"
    host.switch(previous)
    back = host.restart_app().returncode == 0 and host.wait_ready(host.cfg["ready_timeout"])[0]
    raise Failed(
        f"ROLLED BACK: release {version} did not become ready within "
        f"{host.cfg['ready_timeout']} s ({why}). `current` points at {previous} again, which is "
        + ("serving" if back else "NOT ready either: look at the host now")
        + (f"; the migration was undone to {undone}" if undone else "")
        + ". The app's journal during the release is below.",
        version=version,
        current=previous,
        rolled_back=True,
        previous_ready=back,
        migration_undone_to=undone,
        journal=journal,
    )


def prune(host: Host, keep: set[str]) -> list[str]:
    """Remove releases beyond the newest `releases_keep` (never `keep`) and shiv folders
    that no kept release uses."""
    versions = host.versions()
    old = versions[: max(0, len(versions) - int(host.cfg["releases_keep"]))]
    removed = [v for v in old if v not in keep]
    for version in removed:
        shutil.rmtree(host.releases / version, ignore_errors=True)
    kept_ids = [host.meta(v).get("build_id") for v in host.versions()]
    if all(kept_ids):
        shiv = Path(host.cfg["shiv_root"])
        for folder in shiv.iterdir() if shiv.is_dir() else []:
            # shiv names its folders <pyz name>_<build id> (plus lock files): keep any in use.
            if folder.is_dir() and not any(str(b) in folder.name for b in kept_ids):
                shutil.rmtree(folder, ignore_errors=True)
    return removed


# --- rollback ---------------------------------------------------------------------------------


def rollback(host: Host, target: str | None) -> dict[str, Any]:
    if host.maintenance_on():
        raise Refused("maintenance mode is on: run `crayon-release maintenance off` first.")
    versions = host.versions()
    current = host.current_version()
    if target is None:
        older = versions[: versions.index(current)] if current in versions else []
        older = [v for v in older if not host.meta(v).get("failed_at")]
        if not older:
            raise Refused(
                f"nothing to roll back to: no release older than {current or 'none'} that "
                f"passed its readiness gate is on this host (installed: "
                f"{', '.join(versions) or 'none'}). Deploy a fixed "
                f"version instead, or name one with `rollback VERSION`."
            )
        target = older[-1]
    elif target not in versions:
        raise Refused(
            f"release {target!r} is not on this host (installed: "
            f"{', '.join(versions) or 'none'}): name one of those, or deploy it."
        )
    if target == current:
        raise Refused(f"{target} is already the current release; nothing to roll back.")
    assert current is not None
    started_wall, started = time.time(), time.monotonic()
    # The schema must match the older build: the newer build (which has the migrations)
    # downgrades it, before the switch.
    want = host.meta(target).get("schema")
    have = host.meta(current).get("schema")
    undone = None
    if host.cfg["run_migrations"] and want and have and want != have:
        host.systemctl("stop", host.service)
        try:
            host.migrate(current, "--downgrade", want)
        except Failed as exc:
            host.restart_app()
            raise Failed(
                f"{exc}; nothing was switched: {current} is still current.",
                current=current,
                rolled_back=False,
            ) from exc
        undone = f"{have} -> {want}"
    host.switch(target)
    ok = host.restart_app().returncode == 0
    ready, why = host.wait_ready(host.cfg["ready_timeout"]) if ok else (False, "restart failed")
    if not ready:
        # Back to where we were: the release we left, with its schema again.
        journal = host.journal(started_wall)
        update_meta(host, target, failed_at=now_iso())
        host.systemctl("stop", host.service)
        host.switch(current)
        redone = None
        if undone:
            try:
                host.migrate(current)
                redone = have
            except Failed as exc:
                redone = f"FAILED: {exc}"
        back = host.restart_app().returncode == 0 and host.wait_ready(host.cfg["ready_timeout"])[0]
        raise Failed(
            f"rollback to {target} did not become ready within {host.cfg['ready_timeout']} s "
            f"({why}), so {current} is current again, and "
            + ("serving" if back else "NOT ready either: look at the host now")
            + (f"; the schema was migrated back to {redone}" if redone else "")
            + f". {target} is marked failed. The app's journal is below.",
            version=target,
            current=current,
            rolled_back=False,
            previous_ready=back,
            journal=journal,
        )
    return {
        "ok": True,
        "changed": True,
        "version": target,
        "previous": current,
        "migrated": undone,
        "seconds": round(time.monotonic() - started, 1),
        "message": f"rolled back to {target} (was {current}).",
    }


# --- list, status -----------------------------------------------------------------------------


def list_releases(host: Host) -> dict[str, Any]:
    current = host.current_version()
    releases = []
    for version in reversed(host.versions()):
        meta = host.meta(version)
        releases.append(
            {
                "version": version,
                "current": version == current,
                "installed_at": meta.get("installed_at"),
                "sha256": (meta.get("sha256") or "")[:12] or None,
                "schema": meta.get("schema"),
                "failed_at": meta.get("failed_at"),
            }
        )
    return {"ok": True, "current": current, "releases": releases}


def status(host: Host) -> dict[str, Any]:
    units = [host.socket, host.service] + (["litestream.service"] if host.cfg["litestream"] else [])
    code, body = host.probe()
    result: dict[str, Any] = {
        "ok": code == 200,
        "current": host.current_version(),
        "maintenance": host.maintenance_on(),
        "units": {unit: host.unit_state(unit) for unit in units},
        "readyz": {"status": code, "body": body},
    }
    if host.cfg["litestream"] and host.current_version():
        try:
            out = host.as_app(
                host.cfg["python"], str(host.current / host.pyz_name), "db", "status", timeout=30
            )
            said = json.loads(out.stdout) if out.returncode == 0 else None
            result["replication"] = said if said is not None else out.stderr.strip()[-300:]
        except (ValueError, subprocess.TimeoutExpired) as exc:
            result["replication"] = f"unreadable: {exc}"
    return result


# --- maintenance ------------------------------------------------------------------------------


def maintenance(host: Host, mode: str) -> dict[str, Any]:
    c = host.cfg
    if mode == "on":
        if host.maintenance_on():
            return {"ok": True, "changed": False, "maintenance": True, "message": "already on"}
        host.dropin.parent.mkdir(parents=True, exist_ok=True)
        # The same unit and socket: the app process is replaced by the responder, so requests
        # wait in the socket's backlog for a moment and then get the page, never a refusal.
        host.dropin.write_text(
            "# Written by crayon-release maintenance on; removed by maintenance off.\n"
            "[Service]\nExecStart=\n"
            f"ExecStart={c['python']} {c['maintenance_tool']}\n"
            f"Environment=CRAYON_MAINTENANCE_PAGE={c['maintenance_page']}\n"
            f"Environment=CRAYON_MAINTENANCE_RETRY_AFTER={c['maintenance_retry_after']}\n"
        )
        host.systemctl("daemon-reload")
        if host.current_version() is None:
            host.start_units()
        done = host.restart_app()
        if done.returncode != 0:
            raise Failed(f"the maintenance responder did not start: {done.stderr.strip()}")
        return {
            "ok": True,
            "changed": True,
            "maintenance": True,
            "message": f"maintenance on: every request gets 503 with Retry-After "
            f"{c['maintenance_retry_after']} until `maintenance off`.",
        }
    if not host.maintenance_on():
        return {"ok": True, "changed": False, "maintenance": False, "message": "already off"}
    started_wall = time.time()
    host.dropin.unlink()
    host.systemctl("daemon-reload")
    if host.current_version() is None:
        host.systemctl("stop", host.service)
        return {"ok": True, "changed": True, "maintenance": False, "message": "no release yet"}
    ok = host.restart_app().returncode == 0
    ready, why = host.wait_ready(c["ready_timeout"]) if ok else (False, "restart failed")
    if not ready:
        raise Failed(
            f"maintenance is off but {host.current_version()} is not ready ({why}).",
            maintenance=False,
            journal=host.journal(started_wall),
        )
    return {
        "ok": True,
        "changed": True,
        "maintenance": False,
        "version": host.current_version(),
        "message": f"maintenance off: {host.current_version()} is serving.",
    }


# --- command line -----------------------------------------------------------------------------

USAGE = (
    "usage: crayon-release deploy [--check] [--sha256 HEX] [PYZ] VERSION | rollback [VERSION] | "
    "list | status | maintenance on|off"
)


def dispatch(host: Host, args: list[str]) -> dict[str, Any]:
    command, rest = (args[0], args[1:]) if args else ("", [])
    if command == "deploy":
        check = "--check" in rest
        rest = [a for a in rest if a != "--check"]
        digest = None
        if len(rest) >= 2 and rest[0] == "--sha256":
            digest, rest = rest[1], rest[2:]
        if len(rest) == 2 or (len(rest) == 1 and digest):
            src, version = (rest[0], rest[1]) if len(rest) == 2 else (None, rest[0])
            if check:
                return deploy(host, src, version, digest=digest, check=True)
            with locked(host):
                return deploy(host, src, version, digest=digest)
    if command == "rollback" and len(rest) <= 1:
        with locked(host):
            return rollback(host, rest[0] if rest else None)
    if command == "list" and not rest:
        return list_releases(host)
    if command == "status" and not rest:
        return status(host)
    if command == "maintenance" and rest in (["on"], ["off"]):
        with locked(host):
            return maintenance(host, rest[0])
    raise Refused(USAGE)


def main(argv: list[str]) -> int:
    try:
        if os.geteuid() != 0:
            raise Refused("run crayon-release as root (sudo): it switches releases and units.")
        try:
            cfg = json.loads(CONFIG.read_text())
        except (OSError, ValueError) as exc:
            raise Refused(
                f"cannot read {CONFIG} ({exc}): run the app_host role (playbooks/host.yml)."
            ) from exc
        result = dispatch(Host(cfg), argv)
        code = 0
    except Refused as exc:
        result, code = {"ok": False, "changed": False, "error": str(exc)}, 2
    except NeedBuild as exc:
        result = {"ok": False, "changed": False, "need_build": True, "error": str(exc)}
        code = 3
    except Failed as exc:
        result = {"ok": False, "changed": True, "error": str(exc), **exc.details}
        code = 1
    print(json.dumps(result, sort_keys=False), flush=True)
    if code:
        print(f"crayon-release: {result['error']}", file=sys.stderr)
        for line in result.get("journal") or []:
            print(f"  {line}", file=sys.stderr)
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
