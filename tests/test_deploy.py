"""deploy/: the GitHub Actions workflow.

No GitHub runner here: the file is read and checked for what would break a deployment or leak a
secret, and the command it starts is parsed by the program's own command line.
"""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path
from typing import Any

import pytest
import yaml

try:
    import tomllib
except ImportError:  # Python 3.10: pytest brings tomli there
    import tomli as tomllib

from jobs.cli import build_parser
from jobs.settings import DEFAULTS, SECRETS, load_settings

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
WORKFLOW = DEPLOY / "github-actions.yml"
FREE_MINUTES = 2000  # GitHub Free, private repositories, per month


def example_env_keys() -> set[str]:
    return set(re.findall(r"^([A-Z_]+)=", (ROOT / "config.example.env").read_text(), flags=re.M))


def console_scripts() -> dict[str, str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return dict(project["scripts"])


def assert_is_a_partnerops_command(argv: list[str]) -> Any:
    """``argv`` starts an installed console script of ours and the command line accepts the rest."""
    assert argv[0] in console_scripts(), f"{argv[0]} is not a console script of pyproject.toml"
    return build_parser().parse_args(argv[1:])


# --- GitHub Actions -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def workflow() -> dict[Any, Any]:
    doc = yaml.safe_load(WORKFLOW.read_text())
    assert isinstance(doc, dict)
    return doc


def steps(workflow: dict[Any, Any]) -> list[dict[str, Any]]:
    (job,) = workflow["jobs"].values()
    return list(job["steps"])


def step_using(workflow: dict[Any, Any], action: str) -> list[dict[str, Any]]:
    return [s for s in steps(workflow) if str(s.get("uses", "")).startswith(action + "@")]


def runs_a_month(cron: str) -> int:
    """Runs of a `M H * * *` schedule in a 31-day month (minute lists, */N steps, hour * only)."""
    minute, hour, *rest = cron.split()
    assert hour == "*" and rest == ["*", "*", "*"], "only every-hour schedules are counted here"
    per_hour = 60 // int(minute[2:]) if minute.startswith("*/") else len(minute.split(","))
    return per_hour * 24 * 31


def test_the_schedule_fits_the_free_minutes_and_the_header_says_so(workflow: dict[Any, Any]) -> None:
    # YAML 1.1 reads the key `on` as true
    triggers = workflow.get("on", workflow.get(True))
    (schedule,) = triggers["schedule"]
    runs = runs_a_month(schedule["cron"])
    # each run bills at least one whole minute; keep a fifth of the allowance for longer runs
    assert runs <= 0.8 * FREE_MINUTES
    header = WORKFLOW.read_text().split("\nname:")[0]
    assert f"{runs:,} runs" in header and f"{runs:,} minutes" in header
    assert "every 10 min = 4,464 (4,320" in header
    assert "workflow_dispatch" in triggers


def test_one_run_at_a_time_and_never_cancelled_halfway(workflow: dict[Any, Any]) -> None:
    assert workflow["concurrency"]["group"]
    assert workflow["concurrency"]["cancel-in-progress"] is False
    assert workflow["permissions"] == {"contents": "read"}


def test_the_home_is_restored_from_the_newest_entry_and_saved_after_every_run(workflow: dict[Any, Any]) -> None:
    (job,) = workflow["jobs"].values()
    home = job["env"]["PARTNEROPS_HOME"]
    restore, check = step_using(workflow, "actions/cache/restore")
    (save,) = step_using(workflow, "actions/cache/save")
    (run,) = [s for s in steps(workflow) if "partnerops" in str(s.get("run", ""))]
    order = steps(workflow)
    assert order.index(restore) < order.index(run) < order.index(save) < order.index(check)

    assert restore["with"]["path"] == save["with"]["path"] == check["with"]["path"] == home
    key = save["with"]["key"]
    assert "github.run_id" in key and "github.run_attempt" in key  # entries cannot be overwritten
    assert restore["with"]["key"] == check["with"]["key"] == key
    assert key.startswith(restore["with"]["restore-keys"])  # prefix match: the newest entry
    # a missing home stops a scheduled run instead of starting over from nothing...
    assert restore["with"]["fail-on-cache-miss"] is True
    assert restore["if"] == "${{ !inputs.fresh_home }}"
    # ...and is never saved as the newest entry; after a run that failed, it is saved all the same
    assert restore["id"] == "restore"
    assert save["if"] == check["if"] == "${{ always() && (inputs.fresh_home || steps.restore.outcome == 'success') }}"
    # a save that failed (actions/cache only warns) fails the run
    assert check["with"]["lookup-only"] is True and check["with"]["fail-on-cache-miss"] is True
    assert job["timeout-minutes"] > run["timeout-minutes"]  # a hung run still gets its home saved


def test_actions_are_pinned_to_a_commit(workflow: dict[Any, Any]) -> None:
    for step in steps(workflow):
        if "uses" in step:
            assert re.fullmatch(r"actions/[a-z-]+(/[a-z]+)?@[0-9a-f]{40}", step["uses"]), step["uses"]


def test_the_workflow_runs_once_per_run(workflow: dict[Any, Any]) -> None:
    (run,) = [s for s in steps(workflow) if "partnerops" in str(s.get("run", ""))]
    args = assert_is_a_partnerops_command(shlex.split(run["run"]))
    assert args.command == "run" and args.once


def test_every_setting_is_passed_under_its_own_name_secrets_as_secrets(workflow: dict[Any, Any]) -> None:
    text = WORKFLOW.read_text()
    secrets = set(re.findall(r"\bsecrets\.([A-Za-z_]+)", text))
    variables = set(re.findall(r"\bvars\.([A-Za-z_]+)", text))
    known = example_env_keys()
    assert secrets | variables <= known, "every secret and variable is one config.example.env lists"
    assert secrets == set(SECRETS)
    assert variables == known - set(SECRETS) - {"PARTNEROPS_HOME"}
    assert {"REFERRAL_FORM_URL", "SLACK_MANAGER_CHANNEL", "HUBSPOT_TOKEN", "CRM_WEBHOOK_URL", "EMAIL_FROM", "TZ"} <= (
        secrets | variables
    )

    (run,) = [s for s in steps(workflow) if "partnerops" in str(s.get("run", ""))]
    for name, value in run["env"].items():
        assert value in (f"${{{{ secrets.{name} }}}}", f"${{{{ vars.{name} }}}}"), name
    # secrets reach the one step that needs them, not checkout, pip or the cache
    assert all("secrets." not in json.dumps(s) for s in steps(workflow) if s is not run)
    assert "secrets." not in json.dumps({k: v for k, v in workflow.items() if k != "jobs"})


def test_an_unset_secret_or_variable_counts_as_not_set() -> None:
    """Actions passes a secret or variable that does not exist as an empty string."""
    assert load_settings({name: "" for name in DEFAULTS}, None) == load_settings({}, None)
