"""CRM search: one page, ids by one property, and "changed since" paging past HubSpot's 10,000 cap.

Search is eventually consistent ("it may take a few moments" for a write to show): never the
dedupe check right after a write; callers of :meth:`Search.modified_since` pass an overlap.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from integrations.hubspot.bodies import Filter, FilterGroup, Sort, eq, search_request
from integrations.hubspot.errors import Json
from integrations.hubspot.models import epoch_ms, parse_hs_datetime, properties_of
from integrations.hubspot.transport import Transport

log = logging.getLogger("integrations.hubspot")

SEARCH_PAGE_LIMIT = 200
SEARCH_RESULT_CAP = 10_000  # paging past this in one query is a 400
MODIFIED = "hs_lastmodifieddate"


@dataclass
class _Sweep:
    """One query's pages: what it found, the newest modification seen, and whether it hit the cap."""

    found: dict[str, Json] = field(default_factory=dict)
    last_modified: str | None = None
    capped: bool = False


class Search:
    """The searches the client makes, through ``transport``."""

    def __init__(self, transport: Transport) -> None:
        self.transport = transport

    def page(
        self,
        object_type: str,
        filter_groups: Sequence[FilterGroup],
        properties: Sequence[str],
        *,
        sorts: Sequence[Sort] = (),
        limit: int | None = None,
        after: str | None = None,
    ) -> Json:
        """One page: ``{total, results, paging?}``."""
        size = SEARCH_PAGE_LIMIT if limit is None else limit
        body = search_request(filter_groups, properties, sorts=sorts, limit=size, after=after)
        return self.transport.request("POST", self.transport.path("objects", f"{object_type}/search"), json=body)[1]

    def ids(self, object_type: str, prop: str, value: str, limit: int = 10) -> list[str]:
        """Ids of the records whose ``prop`` equals ``value`` (1 call)."""
        page = self.page(object_type, [FilterGroup(filters=[eq(prop, value)])], [prop], limit=limit)
        return [str(r["id"]) for r in page.get("results") or []]

    def modified_since(
        self, object_type: str, since: datetime, id_property: str, properties: Sequence[str]
    ) -> list[Json]:
        """Records carrying ``id_property`` with ``hs_lastmodifieddate >= since``, oldest first.

        Pages of 200; when a query reaches the 10,000-result cap it restarts from the last
        modification seen (results deduplicated by id).
        """
        wanted = list(dict.fromkeys([*properties, id_property, MODIFIED]))
        seen: dict[str, Json] = {}
        cursor = epoch_ms(since)
        while True:
            sweep = self._sweep(object_type, _changed_since(cursor, id_property), wanted)
            for key, record in sweep.found.items():
                seen.setdefault(key, record)
            if not sweep.capped or sweep.last_modified is None:
                break
            next_cursor = epoch_ms(parse_hs_datetime(sweep.last_modified))
            if next_cursor == cursor:
                log.warning("more than %d records share one modification time; stopping", SEARCH_RESULT_CAP)
                break
            cursor = next_cursor
        return sorted(seen.values(), key=lambda r: parse_hs_datetime(properties_of(r).get(MODIFIED)))

    def _sweep(self, object_type: str, groups: list[FilterGroup], wanted: list[str]) -> _Sweep:
        sweep = _Sweep()
        sorts = [Sort(propertyName=MODIFIED, direction="ASCENDING")]
        after: str | None = None
        while True:
            page = self.page(object_type, groups, wanted, sorts=sorts, after=after)
            for record in page.get("results") or []:
                sweep.found.setdefault(str(record["id"]), record)
                sweep.last_modified = properties_of(record).get(MODIFIED) or sweep.last_modified
            after = _next_after(page)
            if not after:
                return sweep
            if after.isdigit() and int(after) >= SEARCH_RESULT_CAP:
                sweep.capped = True
                return sweep


def _changed_since(cursor: str, id_property: str) -> list[FilterGroup]:
    filters = [
        Filter(propertyName=MODIFIED, operator="GTE", value=cursor),
        Filter(propertyName=id_property, operator="HAS_PROPERTY"),
    ]
    return [FilterGroup(filters=filters)]


def _next_after(page: Json) -> str | None:
    paging = page.get("paging")
    following = paging.get("next") if isinstance(paging, dict) else None
    after = following.get("after") if isinstance(following, dict) else None
    return str(after) if after else None
