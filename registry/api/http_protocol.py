"""GraphQL over HTTP (https://graphql.github.io/graphql-over-http/draft/): which media type a
response has, which status, and which requests are refused before anything is parsed.

- HTTP-1 The response is `application/graphql-response+json` when the client's Accept names it
  at least as strongly as `application/json`; it is `application/json` when Accept names only
  that, only wildcards (`*/*`, `application/*`), or is missing. An Accept that allows neither
  is refused: 406 `NOT_ACCEPTABLE`.
- HTTP-2 A request that is not a GraphQL-over-HTTP request at all (body not JSON:
  `INVALID_JSON`; `query` missing or not a string, `variables`, `operationName` or
  `extensions` of the wrong type: `BAD_REQUEST`) is HTTP 400, whatever the media type. A
  request error found by GraphQL itself (a document that does not parse or validate,
  variables that do not fit) is answered without a `data` entry: HTTP 400 with
  `application/graphql-response+json`, HTTP 200 with `application/json` (as the spec says for
  legacy clients). Once execution has started, the answer is 200 with `data`, whatever errors
  its fields raised (our coded business errors included).
- HTTP-3 Only GET and POST: any other method is refused with 405 `METHOD_NOT_ALLOWED` and
  `Allow: GET, POST`. A POST must be `application/json` or `multipart/form-data` (uploads):
  anything else, or none, is 415 `UNSUPPORTED_MEDIA_TYPE`.
- HTTP-4 GET runs queries only (`query`, `variables`, `operationName`, `extensions` in the URL).
  A mutation by GET is not executed: 405 `MUTATION_NOT_ALLOWED_VIA_GET`, `Allow: POST`.
- HTTP-5 Every /graphql answer varies with Accept and Authorization (`Vary`), and a GET answer is
  `Cache-Control: private, no-store`: what it holds depends on the caller's token.
"""

from __future__ import annotations

from dataclasses import dataclass, field

GRAPHQL_RESPONSE_JSON = "application/graphql-response+json"
JSON = "application/json"
REQUEST_CONTENT_TYPES = frozenset({JSON, "multipart/form-data"})
METHODS = ("GET", "POST")
VARY = "Accept, Authorization"
GET_CACHE_CONTROL = "private, no-store"
NOT_JSON = "Unable to parse request body as JSON"  # strawberry's reason for such a body
STATE_KEY = "graphql_media_type"  # on request.state: the media type chosen for the answer


@dataclass
class RequestRefused(Exception):
    """A request refused before execution, with its HTTP status and a coded error."""

    status: int
    code: str
    message_zh: str
    message_en: str
    headers: dict[str, str] = field(default_factory=dict)

    def body(self) -> dict[str, object]:
        return {"errors": [{"message": self.message_en, "extensions": {
            "code": self.code, "messageZh": self.message_zh, "messageEn": self.message_en}}]}


def _media_ranges(accept: str) -> list[tuple[str, float]]:
    ranges: list[tuple[str, float]] = []
    for part in accept.split(","):
        media, *params = (piece.strip() for piece in part.split(";"))
        if not media:
            continue
        quality = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        ranges.append((media.lower(), quality))
    return ranges


def _quality(ranges: list[tuple[str, float]], media: str) -> tuple[float, int]:
    """How strongly `ranges` accept `media`: (q of the most specific match, its specificity)."""
    kind = media.split("/")[0]
    best: tuple[float, int] = (0.0, -1)
    for candidate, quality in ranges:
        specificity = (2 if candidate == media else 1 if candidate == f"{kind}/*"
                       else 0 if candidate == "*/*" else -1)
        if specificity > best[1]:
            best = (quality, specificity)
    return best


def negotiate(accept: str | None) -> str:
    """HTTP-1: the media type of the answer to a request with this Accept header."""
    if not accept or not accept.strip():
        return JSON
    ranges = _media_ranges(accept)
    response_q, response_specific = _quality(ranges, GRAPHQL_RESPONSE_JSON)
    json_q, _ = _quality(ranges, JSON)
    if response_q > 0 and response_specific == 2 and response_q >= json_q:
        return GRAPHQL_RESPONSE_JSON
    if json_q > 0:
        return JSON
    if response_q > 0:
        return GRAPHQL_RESPONSE_JSON
    raise RequestRefused(406, "NOT_ACCEPTABLE", "无法以请求头 Accept 所列的格式应答",
                         f"cannot answer in a format the Accept header allows; use {JSON} or "
                         f"{GRAPHQL_RESPONSE_JSON}")


def check_request(method: str, content_type: str | None) -> None:
    """HTTP-3: refuse other methods, and POST bodies that are neither JSON nor multipart."""
    if method not in METHODS:
        raise RequestRefused(405, "METHOD_NOT_ALLOWED", "只接受 GET 与 POST 请求",
                             "GraphQL is served over GET (queries) and POST only",
                             headers={"Allow": ", ".join(METHODS)})
    if method == "POST":
        media = (content_type or "").split(";")[0].strip().lower()
        if media not in REQUEST_CONTENT_TYPES:
            raise RequestRefused(415, "UNSUPPORTED_MEDIA_TYPE",
                                 "请求体须为 application/json（上传用 multipart/form-data）",
                                 "send the request as application/json (uploads as "
                                 "multipart/form-data)")


def mutation_via_get() -> RequestRefused:
    """HTTP-4."""
    return RequestRefused(405, "MUTATION_NOT_ALLOWED_VIA_GET", "GET 请求只能查询，变更须用 POST",
                          "mutations are not executed over GET; send them with POST",
                          headers={"Allow": "POST"})


def bad_request(reason: str) -> RequestRefused:
    """HTTP-2: a request that is not a well-formed GraphQL request (strawberry's reason)."""
    if reason == NOT_JSON:
        return RequestRefused(400, "INVALID_JSON", "请求体不是有效的 JSON", reason)
    return RequestRefused(400, "BAD_REQUEST", "请求不是有效的 GraphQL 请求", reason)


def status_for(media_type: str, has_data: bool) -> int:
    """HTTP-2: the status of an answer from the executor (no data: a request error)."""
    return 400 if not has_data and media_type == GRAPHQL_RESPONSE_JSON else 200


def headers_for(method: str) -> dict[str, str]:
    """HTTP-5."""
    headers = {"Vary": VARY}
    if method == "GET":
        headers["Cache-Control"] = GET_CACHE_CONTROL
    return headers
