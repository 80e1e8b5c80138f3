"""The demo single-page app, served from this origin so the session cookie stays first-party.

The app routes on the client with real paths, so each of its pages is served the same document:
a link, a reload or the return from login lands on the page that was asked for.
"""

from __future__ import annotations

from pathlib import Path

from litestar import Response, get
from litestar.params import FromPath
from litestar.static_files import create_static_files_router

SPA_DIR = Path(__file__).resolve().parent / "spa"
_INDEX = (SPA_DIR / "index.html").read_bytes()
#: The app's pages without a path parameter (``/products/{id}`` has its own handler).
PAGES = ["/", "/orders", "/devices"]


def _index_response() -> Response[bytes]:
    return Response(_INDEX, media_type="text/html", headers={"cache-control": "no-cache"})


@get(PAGES, include_in_schema=False, sync_to_thread=False)
def index() -> Response[bytes]:
    return _index_response()


@get("/products/{product_id:str}", include_in_schema=False, sync_to_thread=False)
def product_index(product_id: FromPath[str]) -> Response[bytes]:
    """The product page's document; the app reads the id from the path."""
    return _index_response()


assets = create_static_files_router(
    path="/assets", directories=[SPA_DIR], include_in_schema=False, name="spa-assets"
)

ROUTES = [index, product_index, assets]
