"""Rendering a page: Jinja2 templates with gettext, locale formats and what every page shows.

A route renders with :func:`render`; the template extends ``base.html`` and gets ``page``
(:class:`PageState`: the signed-in user, the language, the form token, the flash messages, the
figures for an Administrator's footer) besides its own values. In templates:

- ``{{ _("Outstanding") }}``, ``{% trans %}`` blocks and ``ngettext`` translate (newstyle
  gettext: ``_("%(count)s invoices", count=n)`` formats after translating);
- ``amount|money`` formats euros (``€ 1.234,56`` in Dutch), ``day|day`` a date
  (``2 maart 2026``), ``day|day("short")`` a short one;
- ``static("app.css")`` is the URL of a file under ``web/static``.

The page's language is set for the rendering only (a context variable), so the shared
environment serves requests in different languages at once.
"""

from __future__ import annotations

import contextvars
import datetime as dt
import gettext
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from functools import cached_property
from pathlib import Path
from typing import Any

from babel.dates import format_date
from babel.numbers import format_currency
from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from verenigingen import __version__
from verenigingen.web.deps import get_context
from verenigingen.web.i18n import (
    FORMAT_LOCALES,
    LANGUAGE_NAMES,
    SUPPORTED,
    choose_language,
    translations,
)
from verenigingen.web.pages import csrf
from verenigingen.web.pages.forms import FlashMessage, clear_flash, flashed
from verenigingen.web.pages.session import (
    CSRF_COOKIE,
    FLASH_COOKIE,
    LANGUAGE_COOKIE,
    SignedInAs,
    home_of,
    request_path,
    set_cookie,
    viewer_of,
)
from verenigingen.web.timing import request_queries

TEMPLATES_DIR = Path(__file__).resolve().parents[1] / "templates"
STATIC_PREFIX = "/static"


@dataclass(frozen=True)
class PageLanguage:
    code: str
    catalog: gettext.NullTranslations

    @property
    def format_locale(self) -> str:
        return FORMAT_LOCALES[self.code]


_rendering: contextvars.ContextVar[PageLanguage] = contextvars.ContextVar("page_language")


def _gettext(message: str) -> str:
    return _rendering.get().catalog.gettext(message)


def _ngettext(singular: str, plural: str, count: int) -> str:
    return _rendering.get().catalog.ngettext(singular, plural, count)


def money(amount: Decimal | int | None) -> str:
    """Euros in the page's language: ``€ 1.234,56`` (nl), ``€1,234.56`` (en)."""
    if amount is None:
        return ""
    return format_currency(amount, "EUR", locale=_rendering.get().format_locale)


def day(value: dt.date | dt.datetime | None, style: str = "long") -> str:
    """A date in the page's language: ``2 maart 2026`` (nl, long), ``02-03-2026`` (nl, short)."""
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        value = value.date()
    return format_date(value, format=style, locale=_rendering.get().format_locale)


def static(path: str) -> str:
    """The URL of a file under ``web/static``, with the version so a release is fetched anew."""
    return f"{STATIC_PREFIX}/{path}?v={__version__}"


environment = Environment(
    loader=FileSystemLoader(TEMPLATES_DIR),
    autoescape=select_autoescape(["html"]),
    undefined=StrictUndefined,
    extensions=["jinja2.ext.i18n"],
    trim_blocks=True,
    lstrip_blocks=True,
)
environment.install_gettext_callables(  # type: ignore[attr-defined]  # added by the extension
    gettext=_gettext, ngettext=_ngettext, newstyle=True
)
environment.filters["money"] = money
environment.filters["day"] = day
environment.globals["static"] = static


@dataclass
class PageState:
    """What every page shows besides its own content, worked out once per request."""

    request: Request
    user: SignedInAs | None
    language: PageLanguage
    new_form_secret: str | None = None
    """A form cookie this response must set (a visitor's first page with a form)."""
    flash: list[FlashMessage] = field(default_factory=list)

    @cached_property
    def csrf_token(self) -> str:
        """The token for this page's forms (sets a form cookie for a visitor without one)."""
        secrets = csrf.cookie_secrets(self.request)
        if not secrets:
            self.new_form_secret = csrf.new_secret()
            secrets = [self.new_form_secret]
        return csrf.form_token(secrets[0])

    @property
    def home(self) -> str:
        return home_of(self.user) if self.user is not None else "/sign-in"

    @property
    def languages(self) -> list[tuple[str, str]]:
        return [(code, LANGUAGE_NAMES[code]) for code in SUPPORTED]

    @property
    def path(self) -> str:
        return self.request.url.path

    @property
    def request_path(self) -> str:
        """This page's path and query: where a form of the frame (the language) comes back to."""
        return request_path(self.request)

    @property
    def association(self) -> str:
        return get_context(self.request).settings.association_name

    def statements(self) -> tuple[int, float] | None:
        """Statements and database milliseconds so far, for an Administrator's footer (the
        capture the Server-Timing header reports); None for anyone else."""
        log = request_queries(self.request)
        if log is None:
            return None
        return log.count, log.duration_ms


def page_language(request: Request, user: SignedInAs | None) -> PageLanguage:
    code = choose_language(
        user.locale if user is not None else None,
        request.cookies.get(LANGUAGE_COOKIE),
        request.headers.get("accept-language"),
        get_context(request).settings.default_locale,
    )
    return PageLanguage(code, translations(code))


def render(
    request: Request,
    template: str,
    values: Mapping[str, Any] | None = None,
    *,
    status_code: int = 200,
    headers: Mapping[str, str] | None = None,
) -> HTMLResponse:
    """``template`` rendered for ``request``: its user, language and form token; personal
    pages are never stored by a cache (``Cache-Control: no-store``)."""
    user = viewer_of(request)
    page = PageState(request, user, page_language(request, user), flash=flashed(request))
    token = _rendering.set(page.language)
    try:
        html = environment.get_template(template).render({**(values or {}), "page": page})
    finally:
        _rendering.reset(token)
    response = HTMLResponse(html, status_code=status_code, headers=dict(headers or {}))
    response.headers["cache-control"] = "no-store"
    response.headers["content-language"] = page.language.code
    if page.new_form_secret is not None:
        set_cookie(response, request, CSRF_COOKIE, page.new_form_secret)
    if FLASH_COOKIE in request.cookies:
        clear_flash(response, request)
    return response


def translate(request: Request, message: str, **values: Any) -> str:
    """``message`` in the request's language (for text outside a template: a mail)."""
    language = page_language(request, viewer_of(request))
    text = language.catalog.gettext(message)
    return text % values if values else text
