"""The per-request context handed to every resolver."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from strawberry.types import Info as StrawberryInfo

from registry.runtime import Runtime


@dataclass
class RequestContext:
    request: Request
    response: Response | None
    runtime: Runtime
    request_id: str
    # Per-request DataLoaders, created lazily by name (see registry.api.loaders).
    loaders: dict[str, Any] = field(default_factory=dict)


Info = StrawberryInfo[RequestContext, None]
