"""Loading the sample data of :mod:`bases.sample` into the local store (demo, tests, benches)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from bases.sample import ACTIVITIES_T, CIRCLES_T, LINKS, MEMBERS_T, PARTNERS_T, REFERRALS_T, sample_data
from jobs.store.local import LocalStore


def load_into(store: LocalStore, now: datetime, **kw: Any) -> dict[str, str]:
    """Write all sample rows into ``store``; return ref -> record id.

    Linked-to tables (Partners, Circles) are written first, so link fields can be resolved.
    Keyword arguments are those of :func:`sample_data`.
    """
    data = sample_data(now, **kw)
    ids: dict[str, str] = {}
    order = [PARTNERS_T, CIRCLES_T, ACTIVITIES_T, REFERRALS_T, MEMBERS_T]
    with store.transaction():
        for key in order:
            base_key, table = key
            for row in data[key]:
                fields = dict(row.fields)
                for (link_table, name), _target in LINKS.items():
                    if link_table == key and name in fields:
                        fields[name] = [ids[ref] for ref in fields[name]]
                record = store.create(base_key, table, fields, created=row.created)
                ids[row.ref] = record.id
    return ids
