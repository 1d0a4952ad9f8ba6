"""A bad inventory value stops in preflight, before any AWS call, with a message that says
what to set."""

from __future__ import annotations

import pytest

from tests.support.playbook import run_playbook
from tests.support.preflight import BASE, ENV, HTTPS_ORIGIN, INVENTORY, PLAY

GOOD = {**BASE, **HTTPS_ORIGIN}


def test_a_good_production_inventory_passes() -> None:
    run = run_playbook(PLAY, ENV, extra_vars=GOOD, inventory=INVENTORY)
    assert run.returncode == 0, run.output[-3000:]


@pytest.mark.parametrize(
    ("override", "says"),
    [
        (
            {"github_repository": "crayon-demo"},
            "set github_repository to your repository as owner/name",
        ),
        ({"github_repository": "crayon demo/crayon"}, "set github_repository"),
        ({"github_repository": "example-org/crayon"}, "placeholder is refused in production"),
        (
            {"github_environment": ""},
            "github_environment to the GitHub environment whose deploy job",
        ),
        ({"github_environment": "prod uction"}, "github_environment to the GitHub environment"),
        ({"alert_email": ""}, "set alert_email to an address"),
        ({"alert_email": "not-an-address"}, "set alert_email to an address"),
        ({"alert_email": "", "alert_opt_out": "no"}, "alert_opt_out to a"),
    ],
)
def test_a_bad_value_stops_with_what_to_set(override: dict[str, str], says: str) -> None:
    run = run_playbook(PLAY, ENV, extra_vars={**GOOD, **override}, inventory=INVENTORY)
    assert run.returncode != 0
    assert says in " ".join(run.output.split()), run.output[-3000:]


def test_opting_out_of_alerts_in_words_passes() -> None:
    run = run_playbook(
        PLAY,
        ENV,
        inventory=INVENTORY,
        extra_vars={
            **GOOD,
            "alert_email": "",
            "alert_opt_out": "The on-call rota reads the dashboard daily.",
        },
    )
    assert run.returncode == 0, run.output[-3000:]


def test_dev_may_run_without_an_alert_address() -> None:
    run = run_playbook(
        PLAY,
        ENV,
        inventory=INVENTORY,
        extra_vars={**GOOD, "crayon_env": "dev", "github_environment": "dev", "alert_email": ""},
    )
    assert run.returncode == 0, run.output[-3000:]
