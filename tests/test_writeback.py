from datetime import date
from pathlib import Path

import pytest

from integrations.local import LocalStore
from jobs.writeback import RecordWriter


@pytest.fixture
def store(tmp_path: Path) -> LocalStore:
    return LocalStore(tmp_path / "store.sqlite")


def test_only_changed_values_are_written(store: LocalStore) -> None:
    a = store.create("partners", "Partners", {"Name": "A", "Email": "a@x.example", "Health Score": 80})
    b = store.create("partners", "Partners", {"Name": "B", "Email": "b@x.example"})
    result = RecordWriter(store, None).update(
        "partners",
        "Partners",
        {
            a.id: {"Health Score": 80},
            b.id: {"Health Score": 42, "Band Changed On": date(2026, 11, 2)},
        },
    )
    assert (result.written, result.unchanged) == (1, 1)
    assert store.get("partners", "Partners", b.id).fields["Band Changed On"] == "2026-11-02"  # type: ignore[union-attr]


def test_a_manager_field_is_never_written(store: LocalStore) -> None:
    a = store.create("partners", "Partners", {"Name": "A", "Email": "a@x.example"})
    with pytest.raises(ValueError, match="partner managers own that field"):
        RecordWriter(store, None).update("partners", "Partners", {a.id: {"Email": "other@x.example"}})
    assert store.get("partners", "Partners", a.id).fields["Email"] == "a@x.example"  # type: ignore[union-attr]


def test_clearing_a_cell(store: LocalStore) -> None:
    a = store.create("partners", "Partners", {"Email": "a@x.example", "Sync Notes": "Email: bad"})
    RecordWriter(store, None).update("partners", "Partners", {a.id: {"Sync Notes": ""}})
    assert "Sync Notes" not in store.get("partners", "Partners", a.id).fields  # type: ignore[union-attr]
