"""Catch-up: what it searches, what it enqueues, when the watermark moves."""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Iterator
from pathlib import Path

import pytest

from service.app.catchup import CatchUp, input_codes, instant
from service.app.memory_queue import MemoryQueue
from service.app.queue import Notice
from service.app.sqlite_queue import SqliteQueue
from service.clients.errors import FhirServerUnavailable
from service.fhir.codes import LOINC, CodeMap, Kind

NOON = dt.datetime(2026, 11, 30, 12, 0, tzinfo=dt.UTC)


class Feed:
    """Yields its notices; fails after ``fail_after`` of them when asked to."""

    def __init__(self, *notices: Notice, fail_after: int | None = None) -> None:
        self.notices = notices
        self.fail_after = fail_after
        self.calls: list[tuple[list[tuple[str, str]], str]] = []

    def changed_since(self, codes: Collection[tuple[str, str]], since: str) -> Iterator[Notice]:
        self.calls.append((list(codes), since))
        for count, notice in enumerate(self.notices):
            if count == self.fail_after:
                raise FhirServerUnavailable("page 2 failed")
            yield notice


def obs(rid: str, version: str = "1") -> Notice:
    return Notice("Observation", rid, version, f"p-{rid}")


def at(moment: dt.datetime) -> float:
    return moment.timestamp()


def test_input_codes_are_ihc_and_ish_codes_only() -> None:
    codes = input_codes(CodeMap())
    assert (LOINC, "85319-2") in codes  # IHC
    assert (LOINC, "49683-6") in codes  # ratio
    assert (LOINC, "85318-4") in codes  # ISH
    assert (LOINC, "48676-1") not in codes  # interpretation: the service's own output code
    assert (LOINC, "32996-1") not in codes  # HER2 tests that are not IHC/ISH
    local = CodeMap().with_local(
        {"observations": [{"system": "urn:lab", "code": "HER2IHC", "kind": "ihc"}]}
    )
    assert ("urn:lab", "HER2IHC") in input_codes(local)
    assert codes == sorted(codes)


def test_instant_is_utc_with_milliseconds() -> None:
    moment = dt.datetime(2026, 11, 30, 13, 0, 5, 123_999, tzinfo=dt.timezone(dt.timedelta(hours=1)))
    assert instant(moment) == "2026-11-30T12:00:05.123Z"


def test_the_first_catch_up_only_sets_the_watermark() -> None:
    queue, feed = MemoryQueue(), Feed(obs("a"))
    result = CatchUp(queue, feed, [(LOINC, "85319-2")], clock=lambda: at(NOON))()
    assert feed.calls == []
    assert (result.found, result.queued) == (0, 0)
    assert queue.watermark() == "2026-11-30T11:58:00.000Z"  # minus the two-minute overlap


def test_a_catch_up_searches_since_the_watermark_and_enqueues_the_unprocessed(
    tmp_path: Path,
) -> None:
    queue = SqliteQueue(tmp_path)
    queue.advance_watermark("2026-11-30T11:00:00.000Z")
    queue.enqueue(obs("b", "2"), at(NOON))
    done = queue.claim("w", at(NOON), 60)
    assert done is not None
    queue.done(done)  # b version 2 was processed from its notification
    feed = Feed(obs("a"), obs("b", "2"), obs("c", "4"))
    result = CatchUp(queue, feed, [(LOINC, "85319-2")], clock=lambda: at(NOON))()
    assert feed.calls == [([(LOINC, "85319-2")], "2026-11-30T11:00:00.000Z")]
    assert (result.found, result.queued) == (3, 2)
    assert result.watermark == "2026-11-30T11:58:00.000Z"
    claimed = set()
    while (item := queue.claim("w", at(NOON), 60)) is not None:
        claimed.add(item.notice.resource_id)
    assert claimed == {"a", "c"}


def test_a_failed_search_leaves_the_watermark_and_keeps_what_was_queued() -> None:
    queue = MemoryQueue()
    queue.advance_watermark("2026-11-30T11:00:00.000Z")
    feed = Feed(obs("a"), obs("b"), fail_after=1)
    with pytest.raises(FhirServerUnavailable):
        CatchUp(queue, feed, [(LOINC, "85319-2")], clock=lambda: at(NOON))()
    assert queue.watermark() == "2026-11-30T11:00:00.000Z"
    assert queue.stats(at(NOON)).depth == 1  # enqueued durably; found again next time


def test_the_watermark_never_moves_back_with_a_late_clock() -> None:
    queue = MemoryQueue()
    queue.advance_watermark("2026-11-30T12:30:00.000Z")
    CatchUp(queue, Feed(), [(LOINC, "85319-2")], clock=lambda: at(NOON))()
    assert queue.watermark() == "2026-11-30T12:30:00.000Z"


def test_kinds_of_the_contract_are_all_considered() -> None:
    kinds = {CodeMap().kinds[code] for code in input_codes(CodeMap())}
    assert kinds == {
        Kind.IHC,
        Kind.ISH,
        Kind.ISH_PANEL,
        Kind.RATIO,
        Kind.AVG_HER2,
        Kind.AVG_CEP17,
        Kind.CELLS,
    }
