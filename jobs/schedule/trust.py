"""Which fields a job may trust: what the last look at the live schema found wrong, in plain words.

The syncer keeps, per base, the differences a full resync found between the live base and its
template (``differences``, each with its fix), the fields the jobs cannot work around
(``blocking``), and — between noticing that fields changed in Airtable and finishing the full
resync that checks them — ``resync``: until that resync is done, no field of the base is trusted,
so a cycle that notices a change never acts on the mirror as it was before it.
"""

from __future__ import annotations

from collections.abc import Iterable

from bases.schema import BASES, BaseDef
from jobs.store.local import LocalStore
from jobs.store.state import SyncState, load_sync

GENERIC = "cannot be trusted (renamed, deleted or retyped in Airtable); run `partnerops bases check` for the fix"


def _tables(base: BaseDef) -> set[str]:
    return {t.name for t in base.tables}


def _explained(base: BaseDef, state: SyncState, name: str) -> str:
    """The difference that makes ``name`` ("Table.Field" or "Table") untrusted, with its fix."""
    table, _, fld = name.partition(".")
    where = f"{base.name} › {table} › {fld}:" if fld else f"{base.name} › {table}:"
    for text in state.get("differences", []):
        if str(text).startswith(where):
            return str(text)
    return f"{base.name} › {name.replace('.', ' › ')} {GENERIC}"


def _broken(base: BaseDef, state: SyncState, reads: Iterable[str], writes: Iterable[str]) -> list[str]:
    blocking = {str(b) for b in state.get("blocking", [])}
    never_had = {str(a) for a in state.get("absent", [])}
    names: list[str] = []
    for f in [*reads, *(w for w in writes if w not in never_had)]:
        table = f.split(".")[0]
        hit = f if f in blocking else table if table in blocking else None
        if hit is not None and hit not in names:
            names.append(hit)
    return [_explained(base, state, n) for n in names]


def problems(store: LocalStore, reads: Iterable[str], writes: Iterable[str] = ()) -> list[str]:
    """Why some of the fields ("Table.Field") a job reads or writes cannot be trusted now; empty
    when all can. A field it only writes that the base never had is no problem (written around)."""
    wanted, written = list(reads), list(writes)
    out: list[str] = []
    for base in BASES:
        state = load_sync(store, base.key)
        here = _tables(base)
        mine = [f for f in wanted if f.split(".")[0] in here]
        mine_w = [f for f in written if f.split(".")[0] in here]
        if state is None or not (mine or mine_w):
            continue
        resync = state.get("resync")
        if resync:
            out.append(
                f"{base.name}: {resync}, and the full resync that checks the fields has not finished; "
                "the mirror may not match Airtable"
            )
            continue
        out += _broken(base, state, mine, mine_w)
    return out
