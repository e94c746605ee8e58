from datetime import date
from pathlib import Path

import pytest

from jobs.apply.writer import RecordWriter
from jobs.store.local import LocalStore
from tests.apps import T0


@pytest.fixture
def store(tmp_path: Path) -> LocalStore:
    return LocalStore(tmp_path / "store.sqlite")


def test_only_changed_values_are_written(store: LocalStore) -> None:
    a = store.create("partners", "Partners", {"Name": "A", "Email": "a@x.example", "Health Score": 80}, created=T0)
    b = store.create("partners", "Partners", {"Name": "B", "Email": "b@x.example"}, created=T0)
    result = RecordWriter(store, None, lambda: T0).update(
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
    a = store.create("partners", "Partners", {"Name": "A", "Email": "a@x.example"}, created=T0)
    with pytest.raises(ValueError, match="partner managers own that field"):
        RecordWriter(store, None, lambda: T0).update("partners", "Partners", {a.id: {"Email": "other@x.example"}})
    assert store.get("partners", "Partners", a.id).fields["Email"] == "a@x.example"  # type: ignore[union-attr]


def test_clearing_a_cell(store: LocalStore) -> None:
    a = store.create("partners", "Partners", {"Email": "a@x.example", "Sync Notes": "Email: bad"}, created=T0)
    RecordWriter(store, None, lambda: T0).update("partners", "Partners", {a.id: {"Sync Notes": ""}})
    assert "Sync Notes" not in store.get("partners", "Partners", a.id).fields  # type: ignore[union-attr]
