"""A patient's specimens on the time axis: order, shapes by status, flags in words."""

from __future__ import annotations

import datetime as dt
import xml.etree.ElementTree as ET

from service.app.derivation import derive
from service.fhir import jsonio
from service.view.model import page_view
from service.view.timeline import Point, draw_timeline
from tests.builders import FIXTURES

NS = "{http://www.w3.org/2000/svg}"


def _svg(points: list[Point]) -> ET.Element:
    return ET.fromstring(str(draw_timeline(points, "t")))


def test_each_status_has_its_own_shape_and_words() -> None:
    points = [
        Point("2024-01-01", "A", "positive", "", (), "g1"),
        Point("2025-01-01", "B", "negative", "HER2-low", ("heterogeneity: x",), "g2"),
        Point("2025-06-01", "C", "equivocal", "", (), "g3"),
        Point(None, "D", "indeterminate", "", (), "g4"),
    ]
    svg = _svg(points)
    assert svg.find(f"{NS}rect") is not None  # positive: filled square
    assert svg.find(f"{NS}circle") is not None  # negative: circle
    texts = ["".join(t.itertext()) for t in svg.iter(f"{NS}text")]
    assert "2025-01-01 · B: negative (HER2-low)" in texts
    assert "FLAG: heterogeneity: x" in texts
    assert "undated · D: indeterminate" in texts
    desc = svg.find(f"{NS}desc")
    assert desc is not None
    assert desc.text == (
        "2024-01-01: A, positive; 2025-01-01: B, negative, HER2-low, heterogeneity: x; "
        "2025-06-01: C, equivocal; undated: D, indeterminate"
    )


def test_text_is_escaped() -> None:
    text = str(draw_timeline([Point("x", "<b>&", "negative", "", (), 'a"b')], "t"))
    assert "<b>&" not in text
    ET.fromstring(text)


def test_a_patients_specimens_oldest_first_with_the_heterogeneity_flag() -> None:
    payload = jsonio.loads((FIXTURES / "inputs" / "several-specimens-priors.json").read_bytes())
    page = page_view(derive(payload, dt.datetime(2026, 11, 25, tzinfo=dt.UTC)))
    (patient,) = page.patients
    assert [g.date for g in patient.groups] == sorted(g.date or "" for g in patient.groups)
    assert [g.heterogeneity for g in patient.groups] == [False, True]
    assert "FLAG: heterogeneity" in str(patient.timeline)
    assert patient.earlier == [("2019-01-10", "positive")]
