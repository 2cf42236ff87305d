#!/usr/bin/env bash
# Installs what the private development stack needs from the operating system:
# PostgreSQL 15 with PostGIS 3, CJK fonts for the charts and papers, curl and jq (Debian
# packages); with the argument `test` (as `make test` calls it) also what only the tests use. Python packages go
# into .venv (see Makefile).
# On a machine where this cannot be done, it says what to install, or points to docker/.
set -euo pipefail

PG_VERSION="${PG_VERSION:-15}"
packages=("postgresql-${PG_VERSION}" "postgresql-${PG_VERSION}-postgis-3")

have_postgres() {
    [ -x "/usr/lib/postgresql/${PG_VERSION}/bin/initdb" ] &&
    [ -f "/usr/share/postgresql/${PG_VERSION}/extension/postgis.control" ]
}

have_cjk_font() {
    # charts name the counties in Chinese (registry/services/charts.py)
    [ -f /usr/share/fonts/truetype/wqy/wqy-microhei.ttc ] ||
    [ -f /usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc ]
}

have_venv() {
    python3 -c 'import ensurepip, venv' >/dev/null 2>&1
}

missing=()
have_postgres || missing+=("${packages[@]}")
have_venv || missing+=("python3-venv")
have_cjk_font || missing+=("fonts-wqy-microhei")
# papers (registry/papers/typeset.py) embed the Noto CJK serif
[ -f /usr/share/fonts/opentype/noto/NotoSerifCJK-Regular.ttc ] || missing+=("fonts-noto-cjk")
# the README's clerk's day talks to the API with curl and jq
command -v curl >/dev/null 2>&1 || missing+=("curl")
command -v jq >/dev/null 2>&1 || missing+=("jq")
if [ "${1:-}" = test ]; then
    # the GraphQL-over-HTTP audit (tests/test_graphql_http.py) runs graphql-http under node
    { command -v node && command -v npm; } >/dev/null 2>&1 || missing+=("nodejs" "npm")
    # the GraphiQL page in a real browser (tests/test_graphiql.py, Playwright drives it)
    command -v chromium >/dev/null 2>&1 || missing+=("chromium")
    # GDAL's ogrinfo/ogr2ogr open the QGIS layers as registry_reader in tests (docs/qgis.md)
    command -v ogrinfo >/dev/null 2>&1 || missing+=("gdal-bin")
    # pdffonts checks that every paper embeds its fonts (tests/test_papers.py)
    command -v pdffonts >/dev/null 2>&1 || missing+=("poppler-utils")
fi
[ ${#missing[@]} -eq 0 ] && exit 0

if ! command -v apt-get >/dev/null 2>&1; then
    cat >&2 <<MSG
This machine has no apt-get, so the private stack's packages cannot be installed for you.
Install PostgreSQL ${PG_VERSION} with PostGIS 3 (server binaries: initdb, pg_ctl) and point
PG_BINDIR at their folder, or set DATABASE_URL and S3_* to existing servers, or run the
containers in docker/compose.yaml (see docker/README.md).
MSG
    exit 1
fi
if [ "$(id -u)" -ne 0 ]; then
    cat >&2 <<MSG
Missing Debian packages: ${missing[*]}
Install them once with:
    sudo apt-get install -y ${missing[*]}
then run this command again. (Or use the containers in docker/compose.yaml.)
MSG
    exit 1
fi
echo "Installing ${missing[*]} (apt-get) ..."
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends "${missing[@]}"
