"""The API's interactive documentation, from files the app serves itself (``/docs``: Swagger
UI; ``/redoc``: ReDoc), so that they work without internet access. Both are routes only when
``api_docs_public`` is on, like ``/openapi.json``; off, each is a 404.
"""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.openapi.docs import get_redoc_html
from fastapi.responses import HTMLResponse

from verenigingen.web.pages.templating import environment, static


def docs_router(title: str, openapi_url: str) -> APIRouter:
    router = APIRouter(include_in_schema=False)
    swagger_page = environment.get_template("api_docs.html").render(
        title=f"{title} - Swagger UI", openapi_url=openapi_url
    )

    @router.get("/docs")
    def swagger_ui() -> HTMLResponse:
        return HTMLResponse(swagger_page)

    @router.get("/redoc")
    def redoc() -> HTMLResponse:
        return get_redoc_html(
            openapi_url=openapi_url,
            title=f"{title} - ReDoc",
            redoc_js_url=static("vendor/redoc/redoc.standalone.js"),
            redoc_favicon_url=static("favicon.svg"),
            with_google_fonts=False,
        )

    return router
