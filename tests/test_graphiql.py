"""GraphiQL on an intranet: the page and everything it loads come from the service (IDE-1),
the token box fills the bearer header and stays in the browser (IDE-2), and the front end's
operations load as examples (IDE-3). In Debian's chromium, driven by Playwright, with every
request to another host cut off — as on a bureau's network with no internet."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import httpx2 as httpx
import pytest
from playwright.sync_api import Browser, Page, Route, sync_playwright

from tests.operations import all_operations

# Namespace names compared by createElementNS / JSON Schema, never fetched
# (scripts/vendor_offline.py keeps exactly these).
NAMESPACE_NAMES = {
    "http://www.w3.org/2000/svg", "http://www.w3.org/1999/xhtml",
    "http://www.w3.org/1998/Math/MathML", "http://www.w3.org/1999/xlink",
    "http://www.w3.org/XML/1998/namespace", "http://www.w3.org/2000/xmlns/",
    "http://json-schema.org/draft-04/schema",
}
ADDRESS = re.compile(r"""https?://[^\s"'`)<>\\]+|(?<=["'(])//[a-z0-9-]+\.[a-z0-9.-]+""", re.I)
ASSET = re.compile(r"""(?:src|href)="([^"]+)\"""")


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    executable = shutil.which("chromium")
    assert executable, "Debian's chromium is needed (scripts/system-deps.sh test installs it)"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, headless=True)
        yield browser
        browser.close()


class Offline:
    """A page whose requests to any host but the service's are aborted, and recorded."""

    def __init__(self, browser: Browser, base: str) -> None:
        self.origin = "{0.scheme}://{0.netloc}".format(urlsplit(base))
        self.outside: list[str] = []
        self.sent: list[dict[str, str]] = []
        self.context = browser.new_context()
        self.context.route("**/*", self._route)
        self.page: Page = self.context.new_page()

    def _route(self, route: Route) -> None:
        request = route.request
        if not request.url.startswith(self.origin + "/"):
            self.outside.append(request.url)
            route.abort()
            return
        if request.method == "POST":
            self.sent.append(request.headers)
        route.continue_()

    def run(self, query: str) -> str:
        """Types `query` into the editor, runs it, and returns the result pane's text."""
        page = self.page
        editor = page.locator(".graphiql-query-editor .CodeMirror")
        editor.click()
        page.evaluate("q => document.querySelector('.graphiql-query-editor .CodeMirror')"
                      ".CodeMirror.setValue(q)", query)
        page.locator(".graphiql-execute-button").click()
        page.wait_for_function("() => (document.querySelector('.result-window') || {})"
                               ".innerText?.includes('\"data\"')", timeout=20_000)
        return page.locator(".result-window").inner_text()


@pytest.fixture
def offline(browser: Browser, served_url: str) -> Iterator[Offline]:
    tab = Offline(browser, served_url)
    tab.page.goto(served_url)
    tab.page.locator(".graphiql-query-editor .CodeMirror").wait_for(timeout=30_000)
    yield tab
    tab.context.close()


def test_graphiql_loads_offline_and_answers_a_query(offline: Offline) -> None:
    shown = offline.run("{ divisions { name children { name } } }")
    assert "巴中市" in shown and "平昌县" in shown
    assert offline.outside == []


def test_the_token_box_sends_the_bearer_header_and_keeps_the_token_in_the_browser(
        offline: Offline, users: Any, served_url: str) -> None:
    token = users.add("ide-clerk", "clerk", county="511923")["Authorization"].split()[1]
    page = offline.page
    page.fill("#registry-token", token)
    shown = offline.run("{ me { username countyCode } }")
    assert "ide-clerk" in shown and "511923" in shown
    assert offline.sent[-1]["authorization"] == f"Bearer {token}"
    assert page.evaluate("localStorage.getItem('registry.graphiql.token')") == token
    assert token not in page.url
    page.reload()  # the token survives a reload, from localStorage
    page.locator(".graphiql-query-editor .CodeMirror").wait_for()
    assert page.input_value("#registry-token") == token
    assert offline.outside == []


def test_the_clerks_operations_load_as_examples(offline: Offline) -> None:
    page = offline.page
    names = [path.stem for path in all_operations()]
    page.locator("#registry-examples option", has_text=names[0]).wait_for(state="attached")
    offered = page.eval_on_selector_all("#registry-examples option", "os => os.map(o => o.value)")
    assert offered[1:] == sorted(names)
    page.select_option("#registry-examples", "CreateParcel")
    page.wait_for_function("() => document.querySelector('.graphiql-query-editor .CodeMirror')"
                           ".CodeMirror.getValue().includes('createParcel')")
    assert offline.outside == []


def test_nothing_served_for_the_page_names_an_outside_host(served_url: str) -> None:
    page = httpx.get(served_url, headers={"Accept": "text/html"})
    assert page.status_code == 200
    assert "default-src 'none'" in page.headers["content-security-policy"]
    assets = ASSET.findall(page.text)
    assert len(assets) == 6  # two stylesheets, four scripts
    served = {served_url: page.text}
    for asset in assets:
        assert not asset.startswith(("http:", "https:", "//")), asset
        response = httpx.get(httpx.URL(served_url).join(asset))
        assert response.status_code == 200, asset
        served[asset] = response.text
    named = {f"{where}: {address}" for where, text in served.items()
             for address in ADDRESS.findall(text) if address not in NAMESPACE_NAMES}
    assert named == set()


def test_the_ide_is_not_served_in_production(runtime: Any) -> None:
    from starlette.testclient import TestClient

    from registry.app import create_app
    from registry.config import Environment

    production = runtime.settings.model_copy(update={"registry_env": Environment.PRODUCTION})
    with TestClient(create_app(production, runtime=runtime)) as http:
        assert http.get("/graphql/static/ide.js").status_code == 404
        assert http.get("/graphql/operations.json").status_code == 404
        page = http.get("/graphql", headers={"Accept": "text/html"})
        assert "GraphiQL" not in page.text
