// The registry's GraphiQL page (registry/api/graphiql.py): IDE-2 the token box, IDE-3 examples.
(function () {
  "use strict";
  var TOKEN_KEY = "registry.graphiql.token";
  var endpoint = window.location.pathname;
  var tokenBox = document.getElementById("registry-token");
  var examples = document.getElementById("registry-examples");

  // IDE-2: the token lives in localStorage only, and goes out as a header, never in a URL.
  tokenBox.value = window.localStorage.getItem(TOKEN_KEY) || "";
  tokenBox.addEventListener("input", function () {
    var token = tokenBox.value.trim();
    if (token) { window.localStorage.setItem(TOKEN_KEY, token); }
    else { window.localStorage.removeItem(TOKEN_KEY); }
  });

  function fetcher(params) {
    var headers = { "Content-Type": "application/json",
                    "Accept": "application/graphql-response+json, application/json" };
    var token = (window.localStorage.getItem(TOKEN_KEY) || "").trim();
    if (token) { headers.Authorization = "Bearer " + token; }
    return window.fetch(endpoint, { method: "POST", headers: headers, credentials: "omit",
                                    body: JSON.stringify(params) })
      .then(function (response) { return response.json(); });
  }

  var root = ReactDOM.createRoot(document.getElementById("graphiql"));
  var generation = 0;
  function render(query) {
    generation += 1;  // a new key mounts a fresh editor holding the chosen operation
    root.render(React.createElement(GraphiQL, {
      key: generation, fetcher: fetcher, query: query, shouldPersistHeaders: false,
      defaultEditorToolsVisibility: true,
    }, React.createElement(GraphiQL.Logo, null, "登记簿")));
  }
  render(undefined);

  // IDE-3: the front end's operations, loadable into the editor.
  var byName = {};
  window.fetch(endpoint + "/operations.json", { credentials: "omit" })
    .then(function (response) { return response.ok ? response.json() : []; })
    .then(function (operations) {
      operations.forEach(function (operation) {
        byName[operation.name] = operation.query;
        var option = document.createElement("option");
        option.value = option.textContent = operation.name;
        examples.appendChild(option);
      });
    });
  examples.addEventListener("change", function () {
    if (byName[examples.value]) { render(byName[examples.value]); }
  });
})();
