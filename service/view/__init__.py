"""The decision view: HER2 results rendered as HTML for a pathologist or oncologist.

Pure rendering, no Flask and no network: ``flows`` holds the guideline's algorithms
(ASCO/CAP 2018 Fig 1-6, CAP/ASCP/ASCO 2016, the frame steps of her2-rules.md) as
trees; ``diagram`` marks the path one result took through them; ``svg`` draws a
marked tree as inline SVG; ``model`` turns a derivation into what the templates
show; ``render`` fills the Jinja templates (autoescaped) under ``templates/``.
"""

from __future__ import annotations

from service.view.render import render_derivation, render_error, render_form, render_logged_out

__all__ = ["render_derivation", "render_error", "render_form", "render_logged_out"]
