"""Fixtures of the page tests (``conftest_pages`` holds them and the helpers)."""

from conftest_pages import browser, pages_app, web

__all__ = ["browser", "pages_app", "web"]
