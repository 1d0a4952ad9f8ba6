"""Callback `crayon_summary`: a closing summary after every run, and a readable plan.

At the end of a playbook it prints what changed (task by task, with the resource and, under
--diff, which attributes), the slowest tasks, the time taken, and the version, URL and result
the playbook reported with set_stats (crayon_version, crayon_url, crayon_result). In check
mode the same list reads as a plan: what a real run would change, before anything changes.

It stays silent when the stdout callback is a machine-readable one (json), so tests and
tools that parse that output see it unchanged.
"""

from __future__ import annotations

import difflib
import time
from typing import Any

from ansible import constants as C  # type: ignore[import-untyped]
from ansible.plugins.callback import CallbackBase  # type: ignore[import-untyped]

DOCUMENTATION = r"""
name: crayon_summary
type: aggregate
short_description: Closing summary (changes, timings, version, URL) and a readable plan
description:
  - Prints, once the playbook ends, each changed task with its host and a one-line summary of
    its diff, the slowest tasks, the time taken, and crayon_version / crayon_url /
    crayon_result from set_stats. Under --check it is titled as a plan.
requirements:
  - enabled in callbacks_enabled (ansible.cfg does)
options:
  slowest:
    description: How many of the slowest tasks to list.
    type: int
    default: 5
    env:
      - name: CRAYON_SUMMARY_SLOWEST
"""

MACHINE_READABLE = ("json", "ansible.posix.json", "jsonl", "ansible.posix.jsonl")


def summarise_diff(diff: Any) -> str:
    """One line for a task's diff: which keys or how many lines differ."""
    parts: list[str] = []
    for d in diff if isinstance(diff, list) else [diff]:
        if not isinstance(d, dict):
            continue
        if d.get("prepared"):
            parts.append(str(d["prepared"]).strip().splitlines()[0][:120])
            continue
        before, after = d.get("before"), d.get("after")
        if isinstance(before, dict) or isinstance(after, dict):
            b, a = before or {}, after or {}
            keys = sorted(k for k in set(b) | set(a) if b.get(k) != a.get(k))
            if keys:
                shown = ", ".join(
                    f"{k}: {_short(b.get(k))} -> {_short(a.get(k))}" for k in keys[:6]
                )
                more = f" (+{len(keys) - 6} more)" if len(keys) > 6 else ""
                parts.append(shown + more)
        elif before is not None or after is not None:
            b_lines = str(before or "").splitlines()
            a_lines = str(after or "").splitlines()
            delta = list(difflib.unified_diff(b_lines, a_lines, lineterm="", n=0))
            added = sum(1 for x in delta if x.startswith("+") and not x.startswith("+++"))
            removed = sum(1 for x in delta if x.startswith("-") and not x.startswith("---"))
            where = d.get("after_header") or d.get("before_header") or ""
            parts.append(f"{where} +{added} -{removed} lines".strip())
    return "; ".join(parts)


def _short(value: Any) -> str:
    text = "absent" if value is None else str(value)
    return text if len(text) <= 40 else text[:37] + "..."


class CallbackModule(CallbackBase):  # type: ignore[misc]
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "crayon_summary"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self) -> None:
        super().__init__()
        self._started = time.monotonic()
        self._task_started: dict[str, float] = {}
        self._durations: dict[str, float] = {}
        self._changes: list[tuple[str, str, str]] = []
        self._failures: list[tuple[str, str, str]] = []
        self._check = False
        self._playbook = ""

    def _silent(self) -> bool:
        stdout = C.config.get_config_value("DEFAULT_STDOUT_CALLBACK")
        return stdout in MACHINE_READABLE

    def v2_playbook_on_start(self, playbook: Any) -> None:
        self._playbook = getattr(playbook, "_file_name", "") or ""

    def v2_playbook_on_play_start(self, play: Any) -> None:
        self._check = bool(getattr(play, "check_mode", False)) or self._check

    def v2_playbook_on_task_start(self, task: Any, is_conditional: bool) -> None:
        self._task_started[task._uuid] = time.monotonic()

    def _finish(self, result: Any) -> str:
        task = result._task
        started = self._task_started.get(task._uuid)
        name = task.get_name()
        if started is not None:
            self._durations[name] = max(self._durations.get(name, 0.0), time.monotonic() - started)
        return str(name)

    def v2_runner_on_ok(self, result: Any) -> None:
        name = self._finish(result)
        res = result._result
        if res.get("changed"):
            host = result._host.get_name()
            self._changes.append((name, host, summarise_diff(res.get("diff", []))))

    def v2_runner_on_failed(self, result: Any, ignore_errors: bool = False) -> None:
        name = self._finish(result)
        if not ignore_errors:
            msg = str(result._result.get("msg", "")).strip().splitlines()
            self._failures.append((name, result._host.get_name(), msg[0][:300] if msg else ""))

    def v2_runner_on_skipped(self, result: Any) -> None:
        self._finish(result)

    def v2_runner_on_unreachable(self, result: Any) -> None:
        name = self._finish(result)
        self._failures.append((name, result._host.get_name(), "unreachable"))

    def v2_playbook_on_stats(self, stats: Any) -> None:
        if self._silent():
            return
        from ansible import context

        check = bool(context.CLIARGS.get("check")) or self._check
        took = time.monotonic() - self._started
        custom = (getattr(stats, "custom", {}) or {}).get("_run", {})
        lines = ["", "== Plan ==" if check else "== Summary =="]
        if check:
            lines.append(
                f"{len(self._changes)} change(s) a real run would make "
                "(check mode: nothing was changed):"
                if self._changes
                else "No changes: the stack already matches the inventory."
            )
        elif self._changes:
            lines.append(f"{len(self._changes)} change(s):")
        else:
            lines.append("Nothing changed.")
        for name, host, diff in self._changes:
            lines.append(f"  ~ {name} [{host}]" + (f": {diff}" if diff else ""))
        for name, host, msg in self._failures:
            lines.append(f"  ! FAILED {name} [{host}]: {msg}")
        slowest = sorted(self._durations.items(), key=lambda kv: -kv[1])
        count = int(self.get_option("slowest") or 5) if self._options_loaded() else 5
        if slowest:
            lines.append(
                "Slowest: " + ", ".join(f"{name} {secs:.1f}s" for name, secs in slowest[:count])
            )
        for key, label in (("crayon_version", "Version"), ("crayon_url", "URL")):
            if custom.get(key):
                lines.append(f"{label}: {custom[key]}")
        if custom.get("crayon_result"):
            lines.append(f"Result: {' '.join(str(custom['crayon_result']).split())}")
        lines.append(f"Took {took:.1f} s.")
        self._display.display("\n".join(lines))

    def _options_loaded(self) -> bool:
        try:
            self.get_option("slowest")
        except KeyError:
            return False
        return True
