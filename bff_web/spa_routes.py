"""The demo single-page app, served from this origin so the session cookie stays first-party."""

from __future__ import annotations

from pathlib import Path

from litestar import Response, get
from litestar.static_files import create_static_files_router

from shared.identity.policy import PUBLIC, declare

SPA_DIR = Path(__file__).resolve().parent / "spa"
_INDEX = (SPA_DIR / "index.html").read_bytes()


@get("/", opt=declare(PUBLIC), include_in_schema=False, sync_to_thread=False)
def index() -> Response[bytes]:
    return Response(_INDEX, media_type="text/html", headers={"cache-control": "no-cache"})


assets = create_static_files_router(
    path="/assets",
    directories=[SPA_DIR],
    include_in_schema=False,
    name="spa-assets",
    opt=declare(PUBLIC),
)

ROUTES = [index, assets]
