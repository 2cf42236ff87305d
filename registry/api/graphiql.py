"""GraphiQL served from the package, for an intranet with no internet.

- IDE-1 Everything the page loads comes from this service: GraphiQL and React are vendored in
  static/graphiql/ (pinned versions in VERSIONS, licences beside them, refreshed by
  scripts/update-graphiql.sh), and the page's Content-Security-Policy allows 'self' only.
- IDE-2 The bearer token is typed into the 令牌 box and kept in the browser's localStorage;
  it is sent as `Authorization: Bearer …`, never put in a URL.
- IDE-3 The operations a front end sends (graphql/operations/*.graphql) are offered as
  examples (示例操作), read from GET /graphql/operations.json.

The page is served (at GET /graphql, when a browser asks for HTML) only where the IDE is on,
i.e. in development (settings.is_development).
"""

from __future__ import annotations

from pathlib import Path

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

HERE = Path(__file__).resolve().parent
STATIC_DIR = HERE / "static"
PAGE = HERE / "graphiql.html"
STATIC_PATH = "/graphql/static"
OPERATIONS_PATH = "/graphql/operations.json"

# IDE-1. React sets inline styles, so style-src needs 'unsafe-inline'; no inline script at all.
CONTENT_SECURITY_POLICY = "; ".join((
    "default-src 'none'", "script-src 'self'", "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data:", "font-src 'self' data:", "connect-src 'self'",
    "base-uri 'none'", "form-action 'none'", "frame-ancestors 'none'",
))


def ide_page() -> HTMLResponse:
    """The GraphiQL page (IDE-1)."""
    return HTMLResponse(PAGE.read_text(encoding="utf-8"), headers={
        "Content-Security-Policy": CONTENT_SECURITY_POLICY,
        "Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff",
    })


def operations_dir() -> Path | None:
    """graphql/operations/ of the checkout the package runs from, else of the working
    directory; None when neither has it (an installed wheel run elsewhere)."""
    for root in (HERE.parents[1], Path.cwd()):
        folder = root / "graphql" / "operations"
        if folder.is_dir():
            return folder
    return None


def example_operations() -> list[dict[str, str]]:
    """IDE-3: every operation file, by name, in name order."""
    folder = operations_dir()
    if folder is None:
        return []
    return [{"name": path.stem, "query": path.read_text(encoding="utf-8")}
            for path in sorted(folder.glob("*.graphql"))]


async def operations(request: Request) -> JSONResponse:
    return JSONResponse(example_operations(), headers={"Cache-Control": "no-cache"})


def ide_routes() -> list[BaseRoute]:
    """The page's assets and examples; mounted only where the IDE is served."""
    return [
        Route(OPERATIONS_PATH, operations, methods=["GET"]),
        Mount(STATIC_PATH, StaticFiles(directory=STATIC_DIR), name="graphiql-static"),
    ]
