"""`partnerops report` and the end of `partnerops demo`: one self-contained HTML file, no
Airtable call, its path printed; `bases check --fix` adds the template fields a base lacks."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from html.parser import HTMLParser
from pathlib import Path

import pytest
import requests

from jobs.cli import main
from jobs.commands.demo import run_demo
from jobs.settings import Settings
from jobs.store.local import LocalStore
from jobs.store.sample import load_into
from tests.conftest import TOKEN, provision
from tests.fakes.airtable import FakeAirtable, FakeClock


def run(*argv: str) -> tuple[int, str]:
    out = io.StringIO()
    code = main(["--env-file", "/nonexistent/.env", *argv], out=out)
    return code, out.getvalue()


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for var in list(__import__("os").environ):
        if var.startswith(("AIRTABLE_", "SLACK_", "HUBSPOT_", "SMTP_", "CRM", "EMAIL_", "PARTNEROPS_", "REFERRAL_")):
            monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("PARTNEROPS_HOME", str(tmp_path / "home"))


class Outside(HTMLParser):
    """Every reference to something outside the page: src, href, url(…), @import."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []
        self.tags: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag)
        for name, value in attrs:
            if name in ("src", "href", "xlink:href", "srcset", "data") and value and not value.startswith("#"):
                self.found.append(f"<{tag} {name}={value}>")

    def handle_data(self, data: str) -> None:
        self.found += re.findall(r"url\((?!['\"]?#)[^)]*\)|@import[^;]*", data)


def test_report_writes_one_self_contained_file_and_prints_its_path(tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "home" / "store.sqlite")
    load_into(store, datetime.now(timezone.utc) - timedelta(days=1))
    partners = [str(p.get("Name")) for p in store.all("partners", "Partners")]
    store.close()
    target = tmp_path / "out" / "program.html"
    code, out = run("report", "--out", str(target))
    assert code == 0
    assert out.strip() == f"report written to {target.resolve()}"
    assert sorted(p.name for p in target.parent.iterdir()) == ["program.html"]  # no leftover, no asset
    page = target.read_text(encoding="utf-8")
    outside = Outside()
    outside.feed(page)
    assert outside.found == []
    assert "script" not in outside.tags and "svg" in outside.tags
    assert all(name.split()[0] in page for name in partners)  # the per-partner table

    code, out = run("report")  # the default place
    assert code == 0 and out.strip() == f"report written to {(tmp_path / 'home' / 'report.html').resolve()}"


def test_the_demo_ends_with_the_reports_path(tmp_path: Path) -> None:
    out = io.StringIO()  # the demo's code path with 3 simulated weeks (`partnerops demo` runs 90 days)
    assert run_demo(Settings(home=tmp_path / "home"), out=out, now=datetime.now(timezone.utc), days=21) == 0
    last = out.getvalue().strip().splitlines()[-1]
    match = re.fullmatch(r"the program report \(open it in a browser\): (\S+)", last)
    assert match, last
    page = Path(match.group(1))
    assert page == (tmp_path / "home" / "demo" / "report.html").resolve() and page.is_file()
    assert "<svg" in page.read_text(encoding="utf-8")
    slack = page.parent / "outbox" / "slack"
    digests = [p for p in slack.glob("*.txt") if "\nkey: digest:" in p.read_text(encoding="utf-8")]
    assert 3 <= len(digests) <= 4 and len(list(slack.glob("*.png"))) == len(digests)  # one a week


# --- bases check --fix -----------------------------------------------------------------------

NEW_FIELDS = ("Health Detail", "Referrals Given", "Last Given On")


@pytest.fixture
def live(monkeypatch: pytest.MonkeyPatch, clock: FakeClock) -> Iterator[FakeAirtable]:
    with FakeAirtable(TOKEN, clock=clock, rate_limit=False) as fake:
        monkeypatch.setenv("AIRTABLE_TOKEN", TOKEN)
        monkeypatch.setenv("AIRTABLE_API_URL", fake.url)
        yield fake


def test_bases_check_fix_adds_the_missing_template_fields_and_touches_nothing_else(
    live: FakeAirtable, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = provision(live)
    for key, base_id in ids.items():
        monkeypatch.setenv(f"AIRTABLE_{key.upper()}_BASE", base_id)
    base = ids["partners"]
    for i in range(12):
        cells = {"Name": f"Partner {i}", "Email": f"p{i}@acme.example", "Health Score": i, "Company": f"Co {i}"}
        live.ui_create(base, "Partners", cells)
    for name in NEW_FIELDS:
        live.ui_delete_field(base, "Partners", name)
    live.ui_rename_field(base, "Partners", "Company", "Firm")  # a rename is not "fixed" by a new field
    before = {r["id"]: r for r in live.records(base, "Partners")}
    fields_before = {f["name"]: f["id"] for f in _fields(live, base)}

    code, out = run("bases", "check")
    assert code == 1
    for name in NEW_FIELDS:
        assert f"Partners › Partners › {name}: is missing" in out and "`partnerops bases check --fix`" in out

    live.reset_counts()
    code, out = run("bases", "check", "--fix")
    assert code == 1, out  # the rename is still there, explained
    for name in NEW_FIELDS:
        assert f"added Partners › Partners › {name}" in out
    assert "Company: is missing; 'Firm' looks like it was renamed from it" in out
    assert live.calls("POST", "/fields") == 3 and live.calls("PATCH") == live.calls("DELETE") == 0

    fields = {f["name"]: f for f in _fields(live, base)}
    assert fields["Health Detail"]["type"] == "multilineText"
    assert fields["Referrals Given"]["type"] == "number" and fields["Last Given On"]["type"] == "date"
    assert "Company" not in fields and fields["Firm"]["id"] == fields_before["Firm"]
    assert all(fields[name]["id"] == fid for name, fid in fields_before.items())  # the others untouched
    after = {r["id"]: r for r in live.records(base, "Partners")}
    assert after == before  # every record, every cell, as it was

    live.ui_rename_field(base, "Partners", "Firm", "Company")
    code, out = run("bases", "check", "--fix")
    assert code == 0 and "the bases match the templates" in out and "added" not in out


def _fields(fake: FakeAirtable, base_id: str) -> list[dict[str, str]]:
    r = requests.get(
        f"{fake.url}/v0/meta/bases/{base_id}/tables", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=5
    )
    r.raise_for_status()
    (table,) = [t for t in r.json()["tables"] if t["name"] == "Partners"]
    return list(table["fields"])
