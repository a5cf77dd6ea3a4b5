"""The FHIR trial source against answers a real server cannot be made to give (responses).

HAPI refuses to store an invalid ResearchStudy, and a server failing mid-search is hard
to arrange; paging, the bound and the Group search run against HAPI in
tests/integration/test_trials_hapi.py.
"""

from __future__ import annotations

import json
import logging
from urllib.parse import parse_qs, urlsplit

import pytest
import responses

from service.app.trial_sources import Refreshing
from service.clients.errors import FhirForbidden, FhirServerError
from service.clients.fhir import FhirClient
from service.clients.research_studies import FhirResearchStudies
from service.trials.model import CriterionKind
from tests.builders import outcome, searchset
from tests.builders.paging import endless_empty_pages
from tests.builders.trials import component, group, research_study

BASE = "http://ehr.test/fhir"
SECRET = "Patient-Jane-Doe-1970"


def source() -> FhirResearchStudies:
    return FhirResearchStudies(FhirClient(BASE, retries=0))


@responses.activate
def test_an_invalid_study_is_skipped_counted_and_logged_without_values(
    caplog: pytest.LogCaptureFixture,
) -> None:
    broken = {"resourceType": "ResearchStudy", "id": "bad", "title": SECRET}  # no status
    responses.get(
        f"{BASE}/ResearchStudy",
        json=searchset(research_study("ok", eligibility="HER2-low"), broken),
    )
    trials = source()
    with caplog.at_level(logging.WARNING, logger="her2.trials"):
        read = trials.read()
    assert [s.study_id for s in read.studies] == ["ok"]
    assert read.skipped == 1
    assert not read.truncated
    record = next(r for r in caplog.records if r.name == "her2.trials")
    assert record.fields == {"skipped": 1, "truncated": False, "read": 1}  # type: ignore[attr-defined]
    assert SECRET not in caplog.text
    assert "bad" not in caplog.text


@responses.activate
def test_referenced_groups_are_searched_by_id_once() -> None:
    responses.get(
        f"{BASE}/ResearchStudy",
        json=searchset(
            research_study("a", enrollment="Group/g-1"),
            research_study("b", enrollment=f"{BASE}/Group/g-1"),
            research_study("c", enrollment="Group/g-gone"),
        ),
    )
    responses.get(
        f"{BASE}/Group",
        json=searchset(
            group("g-1", component("her2-low", True)),
            # Not asked for: never used, even if the server sends it.
            group("g-other", component("her2-low", False)),
        ),
    )
    studies = source().studies()
    group_calls = [
        c for c in responses.calls if urlsplit(c.request.url or "").path.endswith("Group")
    ]
    assert len(group_calls) == 1
    query = parse_qs(urlsplit(group_calls[0].request.url or "").query)
    assert query["_id"] == ["g-1,g-gone"]
    kinds = {s.study_id: [c.kind for c in s.coded or ()] for s in studies}
    assert kinds == {
        "a": [CriterionKind.HER2_LOW],
        "b": [CriterionKind.HER2_LOW],
        "c": [CriterionKind.NOT_UNDERSTOOD],
    }


@responses.activate
def test_no_group_search_without_referenced_groups() -> None:
    responses.get(f"{BASE}/ResearchStudy", json=searchset(research_study("a")))
    assert len(source().studies()) == 1
    assert len(responses.calls) == 1


@pytest.mark.parametrize(("status", "error"), [(403, FhirForbidden), (500, FhirServerError)])
@responses.activate
def test_a_failing_group_search_raises_the_client_error(
    status: int, error: type[Exception]
) -> None:
    responses.get(
        f"{BASE}/ResearchStudy", json=searchset(research_study("a", enrollment="Group/g"))
    )
    responses.get(f"{BASE}/Group", json=outcome("no"), status=status)
    with pytest.raises(error):
        source().studies()


@responses.activate
def test_groups_beyond_the_bound_are_not_read_and_the_answer_says_truncated() -> None:
    two_groups = research_study("b", enrollment="Group/g-3")
    two_groups["enrollment"].append({"reference": "Group/g-4"})
    one = research_study("a", enrollment="Group/g-1")
    one["enrollment"].append({"reference": "Group/g-2"})
    responses.get(f"{BASE}/ResearchStudy", json=searchset(one, two_groups))
    responses.get(
        f"{BASE}/Group",
        json=searchset(group("g-1"), group("g-2", component("her2-low", True))),
    )
    trials = FhirResearchStudies(FhirClient(BASE, retries=0), max_studies=2)
    read = trials.read()
    studies = read.studies
    assert read.truncated
    query = parse_qs(urlsplit(responses.calls[-1].request.url or "").query)
    assert query["_id"] == ["g-1,g-2"]
    kinds = {s.study_id: [c.kind for c in s.coded or ()] for s in studies}
    assert kinds == {
        "a": [CriterionKind.HER2_LOW],
        "b": [CriterionKind.NOT_UNDERSTOOD, CriterionKind.NOT_UNDERSTOOD],
    }


@responses.activate
def test_a_server_that_pages_forever_is_asked_a_bounded_number_of_times() -> None:
    # Every page holds only an `include` entry and a new `next` link: no study ever
    # arrives, so only the request budget can stop the paging.
    def endless(_: object) -> tuple[int, dict[str, str], str]:
        number = len(responses.calls)
        page = searchset()
        page["entry"] = [{"resource": group(f"g-{number}"), "search": {"mode": "include"}}]
        page["link"] = [{"relation": "next", "url": f"{BASE}/ResearchStudy?page={number}"}]
        return 200, {"Content-Type": "application/fhir+json"}, json.dumps(page)

    responses.add_callback(responses.GET, f"{BASE}/ResearchStudy", callback=endless)
    trials = FhirResearchStudies(FhirClient(BASE, retries=0), max_requests=7)
    # A read that spent its budget on no study failed: never an empty trial list (which
    # the caller would cache and show as "no trial fits").
    with pytest.raises(FhirServerError):
        trials.studies()
    assert len(responses.calls) == 7


@responses.activate
def test_the_request_budget_covers_the_group_searches_too() -> None:
    studies = [research_study(f"s{n}", enrollment=f"Group/g-{n}") for n in range(3)]
    responses.get(f"{BASE}/ResearchStudy", json=searchset(*studies))
    responses.get(f"{BASE}/Group", json=searchset())
    trials = FhirResearchStudies(FhirClient(BASE, retries=0), group_batch=1, max_requests=3)
    read = trials.read()
    found = read.studies
    assert read.truncated
    assert len(responses.calls) == 3  # one study page and two of the three Group batches
    assert [s.study_id for s in found] == ["s0", "s1", "s2"]
    assert all(c.kind is CriterionKind.NOT_UNDERSTOOD for s in found for c in s.coded or ())


@responses.activate
def test_a_next_link_back_to_a_followed_page_ends_the_search() -> None:
    looping = f"{BASE}/ResearchStudy?page=2"
    responses.get(
        f"{BASE}/ResearchStudy",
        json=searchset(research_study("a", eligibility="HER2-low"), next_url=looping),
    )
    trials = FhirResearchStudies(FhirClient(BASE, retries=0))
    read = trials.read()  # no error: the client stops at the link it has already followed
    assert len(responses.calls) == 2
    assert not read.truncated


@responses.activate
def test_a_read_spent_on_no_study_is_not_kept_and_an_incomplete_one_is_reported() -> None:
    url = f"{BASE}/ResearchStudy"
    responses.add_callback(responses.GET, url, callback=endless_empty_pages(url))
    source = Refreshing(FhirResearchStudies(FhirClient(BASE, retries=0), max_requests=3), 300)
    for _ in range(2):  # each call reads again: the failure was not cached
        with pytest.raises(FhirServerError):
            source.read()
    assert len(responses.calls) == 6
    responses.replace(
        responses.GET,
        f"{BASE}/ResearchStudy",
        json=searchset(research_study("a"), {**research_study("b"), "title": ["not", "a string"]}),
    )
    source = Refreshing(FhirResearchStudies(FhirClient(BASE, retries=0)), 300)
    read = source.read()
    assert [s.study_id for s in read.studies] == ["a"]
    assert (read.skipped, read.truncated) == (1, False)
