#!/usr/bin/env bash
# Re-vendors the GraphiQL page's assets into registry/api/static/graphiql/ from npm, pinned:
#   scripts/update-graphiql.sh            (the versions below)
#   GRAPHIQL=3.8.3 REACT=18.3.1 scripts/update-graphiql.sh
# Needs node/npm and the npm registry (not the service: it serves the committed files). Each
# bundle is re-minified with esbuild, its licence comments moved to <file>.LEGAL.txt, and every
# outside address left in a message or link is removed (scripts/vendor_offline.py), so nothing
# served names a host other than the service's own. Commit the result with VERSIONS.
set -euo pipefail
GRAPHIQL="${GRAPHIQL:-3.8.3}"
REACT="${REACT:-18.3.1}"
ESBUILD="${ESBUILD:-0.24.2}"
here="$(cd "$(dirname "$0")/.." && pwd)"
out="$here/registry/api/static/graphiql"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cd "$work"
npm pack --silent "graphiql@$GRAPHIQL" "react@$REACT" "react-dom@$REACT" >/dev/null
for tarball in "graphiql-$GRAPHIQL" "react-$REACT" "react-dom-$REACT"; do
    pkg="${tarball%-*}"
    mkdir "$pkg" && tar xzf "$tarball.tgz" -C "$pkg" --strip-components=1
done
npm install --silent --no-save --no-audit --no-fund "esbuild@$ESBUILD" >/dev/null
minify() { node_modules/.bin/esbuild "$1" --minify --legal-comments=external --log-level=warning \
    --outfile="$out/$2"; }
rm -rf "$out" && mkdir -p "$out"
minify graphiql/graphiql.min.js graphiql.min.js
minify graphiql/graphiql.min.css graphiql.min.css
minify react/umd/react.production.min.js react.production.min.js
minify react-dom/umd/react-dom.production.min.js react-dom.production.min.js
cp graphiql/LICENSE "$out/LICENSE.graphiql"
cp react/LICENSE "$out/LICENSE.react"
cp react-dom/LICENSE "$out/LICENSE.react-dom"
python3 "$here/scripts/vendor_offline.py" "$out"
cat > "$out/VERSIONS" <<MSG
graphiql $GRAPHIQL (npm, dist graphiql.min.js/css, MIT, LICENSE.graphiql)
react $REACT (npm, umd/react.production.min.js, MIT, LICENSE.react)
react-dom $REACT (npm, umd/react-dom.production.min.js, MIT, LICENSE.react-dom)
re-minified with esbuild $ESBUILD; licence comments in *.LEGAL.txt; outside addresses removed
by scripts/vendor_offline.py; made by scripts/update-graphiql.sh
MSG
ls -l "$out"
