"""The cohort report: one self-contained HTML file drawn from the JSON summary.

No script, no stylesheet or font from elsewhere: inline CSS and inline SVG bar
charts made here, so the file opens offline and can be mailed or archived as is.
Accessible by construction: a heading per section, every chart an ``img`` with
a title and description, and after it a table with the same numbers.  Every
number printed carries ``data-summary`` (its path in the JSON summary, keys
joined by ``/``), which is how the browser test checks report against summary.
"""

from __future__ import annotations

from html import escape
from typing import Any, Final

_BAR_HEIGHT: Final = 22
_LABEL_WIDTH: Final = 260
_BAR_WIDTH: Final = 380
_CSS: Final = """
body{font-family:system-ui,sans-serif;margin:2rem auto;max-width:60rem;color:#1a1a1a}
table{border-collapse:collapse;margin:.5rem 0 1.5rem}
th,td{border:1px solid #999;padding:.25rem .6rem;text-align:left}
td.n{text-align:right;font-variant-numeric:tabular-nums}
.figures{display:flex;flex-wrap:wrap;gap:1rem;list-style:none;padding:0}
.figures li{border:1px solid #999;padding:.5rem 1rem}
.figures strong{display:block;font-size:1.6rem}
svg text{font-size:13px;fill:#1a1a1a}
svg rect.bar{fill:#2b5c8a}
"""

Item = tuple[str, int, str]
"""(label, value, path of the value in the summary)."""


def _number(value: int, path: str, tag: str = "td") -> str:
    css = ' class="n"' if tag == "td" else ""
    return f'<{tag}{css} data-summary="{escape(path)}">{value}</{tag}>'


def bar_chart(chart_id: str, title: str, items: list[Item]) -> str:
    """An inline SVG horizontal bar chart with a table of the same numbers after it."""
    if not items:
        return f"<p>No {escape(title.lower())} in this cohort.</p>"
    top = max(value for _, value, _ in items) or 1
    height = _BAR_HEIGHT * len(items) + 10
    width = _LABEL_WIDTH + _BAR_WIDTH + 70
    bars = []
    for row, (label, value, path) in enumerate(items):
        y = 5 + row * _BAR_HEIGHT
        length = round(_BAR_WIDTH * value / top)
        bars.append(
            f'<text x="{_LABEL_WIDTH - 8}" y="{y + 15}" text-anchor="end">{escape(label)}</text>'
            f'<rect class="bar" x="{_LABEL_WIDTH}" y="{y + 3}" width="{length}" height="16" '
            f'data-summary="{escape(path)}" data-value="{value}"></rect>'
            f'<text x="{_LABEL_WIDTH + length + 6}" y="{y + 15}">{value}</text>'
        )
    description = "; ".join(f"{label}: {value}" for label, value, _ in items)
    svg = (
        f'<svg role="img" aria-labelledby="{chart_id}-t {chart_id}-d" width="{width}" '
        f'height="{height}" viewBox="0 0 {width} {height}" xmlns="http://www.w3.org/2000/svg">'
        f'<title id="{chart_id}-t">{escape(title)}</title>'
        f'<desc id="{chart_id}-d">{escape(description)}</desc>{"".join(bars)}</svg>'
    )
    rows = "".join(
        f'<tr><th scope="row">{escape(label)}</th>{_number(value, path)}</tr>'
        for label, value, path in items
    )
    table = (
        f'<table id="{chart_id}-table"><caption>{escape(title)} (table)</caption>'
        f'<thead><tr><th scope="col">Category</th><th scope="col">Count</th></tr></thead>'
        f"<tbody>{rows}</tbody></table>"
    )
    return f'<figure id="{chart_id}">{svg}<figcaption>{escape(title)}</figcaption></figure>{table}'


def _items(section: dict[str, int], prefix: str, label: str = "{}") -> list[Item]:
    return [(label.format(key), value, f"{prefix}/{key}") for key, value in section.items()]


def render(summary: dict[str, Any]) -> str:
    """The report's HTML for a summary (``summary.build_summary``)."""
    patients, specimens = summary["patients"], summary["specimens"]
    figures = [
        ("Patients in the export", patients["total"], "patients/total"),
        ("Patients with HER2 data", patients["with_her2_data"], "patients/with_her2_data"),
        ("Specimens derived", specimens["derived"], "specimens/derived"),
        ("Patients whose data failed", patients["failed"], "patients/failed"),
        (
            "Patients newly inside a labelled T-DXd setting",
            patients["newly_in_labelled_tdxd_setting"],
            "patients/newly_in_labelled_tdxd_setting",
        ),
    ]
    figure_list = "".join(
        f"<li>{_number(value, path, 'strong')}{escape(label)}</li>"
        for label, value, path in figures
    )
    by_site = [
        (f"{site} · {status}", count, f"status_by_site/{site}/{status}")
        for site, statuses in summary["status_by_site"].items()
        for status, count in statuses.items()
    ]
    low = [
        ("HER2-low", specimens["her2_low"], "specimens/her2_low"),
        ("HER2-ultralow", specimens["her2_ultralow"], "specimens/her2_ultralow"),
        ("T-DXd listed", specimens["tdxd_listed"], "specimens/tdxd_listed"),
    ]
    recorded = summary["recorded_interpretation"]
    changes = _items(recorded["changes"], "recorded_interpretation/changes")
    steps = _items(summary["next_steps_pending"], "next_steps_pending")
    errors = _items(summary["not_derived_by_error"], "not_derived_by_error")
    run = summary["run"]
    rulesets = ", ".join(run.get("rulesets", [])) or "none"
    inputs = summary["input"]
    input_items = _items(inputs, "input")
    status_word = "Some inputs or patients failed" if summary["failed"] else "Nothing failed"
    sections = [
        "<h2>Key figures</h2>",
        f'<ul class="figures">{figure_list}</ul>',
        "<h2>Status by tumour site</h2>",
        bar_chart("by-site", "Specimens by tumour site and HER2 status", by_site),
        "<h2>HER2-low and HER2-ultralow</h2>",
        bar_chart("low", "HER2-low, HER2-ultralow and T-DXd listings", low),
        "<h2>Statuses that differ from the recorded interpretation</h2>",
        f"<p>{_number(recorded['differs'], 'recorded_interpretation/differs', 'span')} of "
        f"{_number(recorded['compared'], 'recorded_interpretation/compared', 'span')} results "
        "with a recorded interpretation (LOINC 48676-1) on the same specimen differ.</p>",
        bar_chart("changes", "Recorded interpretation → derived status", changes),
        "<h2>Next steps pending</h2>",
        bar_chart("steps", "Next steps pending", steps),
        "<h2>Specimens not derived</h2>",
        bar_chart("errors", "Specimens not derived, by input error", errors),
        "<h2>Input</h2>",
        bar_chart("input", "Lines of the export", input_items),
    ]
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>HER2 cohort report</title><style>{_CSS}</style></head><body><main>"
        "<h1>HER2 cohort report</h1>"
        f"<p>Derived at {escape(str(run.get('derived_at', '')))} with rule set "
        f"{escape(rulesets)} by the {escape(str(run.get('engine', '')))} engine. "
        f"{status_word}. Reference software: it reports what the guidelines say about "
        "the results it was given; it does not replace the pathologist's report.</p>"
        f"{''.join(sections)}</main></body></html>\n"
    )


__all__ = ["bar_chart", "render"]
