"""The view's HTML pages, from the Jinja templates under ``templates/`` (autoescaped).

Every page is one self-contained document: its stylesheet is inline and carries the
response's CSP nonce, the diagrams are inline SVG, and nothing is loaded from
anywhere else (no script at all, no font, no image from the internet).
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from service.app.derivation import Derivation
from service.fhir.issues import Issue
from service.view.model import page_view


@cache
def _environment() -> Environment:
    return Environment(
        loader=PackageLoader("service.view", "templates"),
        autoescape=select_autoescape(["html"], default=True, default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def render_derivation(
    derivation: Derivation,
    nonce: str,
    title: str = "HER2 status",
    links: Sequence[tuple[str, str]] = (),
    user: str | None = None,
) -> str:
    """The decision view of one derivation.

    Args:
        derivation: the derivation (its Bundle is what the JSON answer would be).
        nonce: the CSP nonce of the response, for the inline stylesheet.
        title: the page title.
        links: (href, text) pairs for the page's navigation.
        user: whose session shows the page (SMART app), for the logout form.
    """
    page = page_view(derivation)
    return (
        _environment()
        .get_template("derivation.html")
        .render(page=page, nonce=nonce, title=title, links=links, user=user)
    )


def render_form(nonce: str, issues: Sequence[Issue] = (), status: int | None = None) -> str:
    """The paste-or-upload form of ``/view``, with the issues of a refused request.

    A refused request is never shown back (not even in the text area): the issues
    name what is wrong in fixed words, as the API's OperationOutcome does.
    """
    return (
        _environment()
        .get_template("form.html")
        .render(nonce=nonce, issues=issues, status=status, title="HER2 status: try a request")
    )


def render_error(nonce: str, status: int, issues: Sequence[Issue], title: str = "") -> str:
    """An error page: the same issues the API gives, as HTML."""
    return (
        _environment()
        .get_template("error.html")
        .render(
            nonce=nonce, status=status, issues=issues, title=title or f"HER2 status: error {status}"
        )
    )


def render_logged_out(nonce: str) -> str:
    """The page after the view's logout."""
    return (
        _environment()
        .get_template("logged_out.html")
        .render(nonce=nonce, title="HER2 status: logged out")
    )


__all__ = ["render_derivation", "render_error", "render_form", "render_logged_out"]
