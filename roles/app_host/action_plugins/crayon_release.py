"""crayon_release: run the host's release tool in as few round trips as the job allows.

The module-based way (ansible.builtin.copy, then ansible.builtin.command) costs a dozen
connection round trips per release: copy alone stats the destination with a module, sends the
file, then runs another module to move it into place, and every module is sent, made
executable, run and removed. Here the controller talks to the host's own release tool,
crayon-release, with plain commands:

1. `crayon-release deploy --sha256 DIGEST VERSION`: when the host already has that release
   (the same version shipped again, or a redeploy), the tool does everything and this is the
   only round trip; when it lacks it, the tool answers exit 3 and nothing has changed;
2. only then: a temporary folder, the build sent into it (one file transfer), and
   `crayon-release deploy PYZ VERSION; rm -rf FOLDER` in one command.

crayon-release installs, migrates, switches, restarts behind the socket, gates on readiness
and rolls back on the host. In check mode only `crayon-release deploy --check` runs.

Options: tool (path of crayon-release on the host), and either pyz (the build on the
controller) and version, for a deploy, or argv (rollback [VERSION], maintenance on|off, list,
status): one plain command, skipped in check mode unless it only reads (list, status). The
result carries the tool's JSON (`release`) and fails with its reason: `REFUSED (nothing
changed): ...` for exit 2, and the journal when a release was rolled back.
"""

from __future__ import annotations

import hashlib
import json
import shlex
from typing import Any

from ansible.errors import AnsibleActionFail, AnsibleError
from ansible.plugins.action import ActionBase

NEED_BUILD = 3


def _digest(path: str) -> str:
    sha = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            sha.update(chunk)
    return sha.hexdigest()


class ActionModule(ActionBase):
    # False: ActionBase would make the remote temporary folder up front (two round trips)
    # even when the host has the release and nothing is sent; it is made below when needed.
    TRANSFERS_FILES = False
    _VALID_ARGS = frozenset(("tool", "pyz", "version", "argv"))
    READ_ONLY = ("list", "status")

    def _tool(self, argv: list[str]) -> tuple[int, dict[str, Any], str]:
        """Run one crayon-release command on the host (as root): (rc, its JSON, stderr)."""
        res = self._low_level_execute_command(shlex.join(argv), sudoable=True)
        return self._said(res)

    @staticmethod
    def _said(res: dict[str, Any]) -> tuple[int, dict[str, Any], str]:
        out = (res.get("stdout") or "").strip().splitlines()
        try:
            said = json.loads(out[-1]) if out else {}
        except ValueError:
            said = {}
        return int(res.get("rc", 1)), said if isinstance(said, dict) else {}, res.get("stderr", "")

    def run(self, tmp: Any = None, task_vars: dict[str, Any] | None = None) -> dict[str, Any]:
        result = super().run(tmp, task_vars)
        del tmp
        args = self._task.args
        tool, pyz, version = (str(args.get(k) or "") for k in ("tool", "pyz", "version"))
        argv = [str(a) for a in args.get("argv") or []]
        if tool and argv and not (pyz or version):
            return self._finish(result, tool, *self._command(tool, argv, result))
        if not (tool and pyz and version) or argv:
            raise AnsibleActionFail(
                "crayon_release needs tool and either pyz and version, or argv."
            )
        try:
            local = self._find_needle("files", pyz)
        except AnsibleError as exc:
            raise AnsibleActionFail(
                f"no build at {pyz} on the controller: build it with `make dist` or pass "
                f"release_pyz=PATH"
            ) from exc
        digest = _digest(local)
        result["sha256"] = digest
        transferred = False
        if self._task.check_mode:
            rc, said, err = self._tool([tool, "deploy", "--check", "--sha256", digest, version])
        else:
            rc, said, err = self._tool([tool, "deploy", "--sha256", digest, version])
            if rc == NEED_BUILD:
                folder = self._make_tmp_path()
                remote = self._connection._shell.join_path(folder, "crayon.pyz")
                self._transfer_file(local, remote)
                transferred = True
                command = shlex.join([tool, "deploy", remote, version])
                # The temporary folder goes in the same round trip, whatever the outcome.
                res = self._low_level_execute_command(
                    f"{command}; rc=$?; rm -rf {shlex.quote(folder)}; exit $rc", sudoable=True
                )
                rc, said, err = self._said(res)
                self._connection._shell.tmpdir = None
        result["transferred"] = transferred
        return self._finish(result, tool, rc, said, err)

    def _command(
        self, tool: str, argv: list[str], result: dict[str, Any]
    ) -> tuple[int, dict[str, Any], str]:
        if self._task.check_mode and argv[0] not in self.READ_ONLY:
            said = {"changed": True, "message": f"would run {shlex.join([tool, *argv])}"}
            result["skipped_in_check_mode"] = True
            return 0, said, ""
        return self._tool([tool, *argv])

    def _finish(
        self, result: dict[str, Any], tool: str, rc: int, said: dict[str, Any], err: str
    ) -> dict[str, Any]:
        result.update(
            release=said,
            changed=bool(said.get("changed", rc != 0)),
            msg=said.get("message") or said.get("error") or err.strip() or f"exit {rc}",
        )
        if rc != 0:
            result["failed"] = True
            reason = said.get("error") or err.strip() or f"{tool} exited {rc}"
            if not said:
                reason += f" ({tool} did not run: configure the host first with playbooks/host.yml)"
            if rc == 2 and reason.startswith("usage:"):
                reason = (
                    f"the host's {tool} predates this kit (it does not know this command): "
                    f"update it once with playbooks/host.yml --tags app_host_release"
                )
            prefix = "REFUSED (nothing changed): " if rc == 2 else ""
            journal = said.get("journal") or []
            tail = f" Journal of the app: {' | '.join(journal)}" if journal else ""
            result["msg"] = f"{prefix}{reason}{tail}"
        return result
