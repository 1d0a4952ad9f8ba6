"""The JSON body of POST /api/runs, checked by hand: the schema is two fields, a library would be
more code than the check. Every error says which field and what is accepted."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

PROMPT_MAX = 2000
STEPS_MAX = 100


class InvalidInput(ValueError):
    def __init__(self, status: int, message: str, fields: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.fields = fields or {}


@dataclass(frozen=True)
class RunRequest:
    prompt: str
    steps: int


def parse_run_request(body: bytes, content_type: str) -> RunRequest:
    if content_type.split(";")[0].strip().lower() != "application/json":
        raise InvalidInput(415, "send the body as JSON with Content-Type: application/json")
    try:
        data: Any = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise InvalidInput(400, f"the body is not valid JSON: {error}") from None
    if not isinstance(data, dict):
        raise InvalidInput(422, 'the body must be a JSON object like {"prompt": "..."}')
    fields: dict[str, str] = {}
    unknown = sorted(set(data) - {"prompt", "steps"})
    for name in unknown:
        fields[name] = "unknown field (accepted: prompt, steps)"
    prompt = data.get("prompt")
    if not isinstance(prompt, str) or not prompt.strip():
        fields["prompt"] = "required: a non-empty string"
    elif len(prompt) > PROMPT_MAX:
        fields["prompt"] = f"at most {PROMPT_MAX} characters (got {len(prompt)})"
    elif any(ord(c) < 32 and c not in "\t\n\r" for c in prompt):
        fields["prompt"] = "control characters are not accepted"
    steps = data.get("steps", 6)
    # bool is an int in Python; `true` is not a step count.
    if not isinstance(steps, int) or isinstance(steps, bool) or not 1 <= steps <= STEPS_MAX:
        fields["steps"] = f"an integer from 1 to {STEPS_MAX}"
    if fields:
        raise InvalidInput(422, "the request body has invalid fields", fields)
    assert isinstance(prompt, str)
    return RunRequest(prompt.strip(), steps)


def parse_last_event_id(raw: str | None) -> int:
    """0 when absent; EventSource sends back the last `id:` it saw, which we make integers."""
    if raw is None or raw.strip() == "":
        return 0
    text = raw.strip()
    if not text.isascii() or not text.isdigit() or len(text) > 12:
        raise InvalidInput(400, f"Last-Event-ID {raw[:40]!r} is not an event id of this server")
    return int(text)
