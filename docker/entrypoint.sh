#!/bin/sh
# Container entrypoint for the registry app image.
#
# With no arguments: apply migrations and reference data (`registry migrate` is idempotent),
# then replace this shell with the API server so it is PID 1 and receives SIGTERM directly.
# With arguments: run them instead (e.g. `docker compose run --rm app registry check`).
set -eu

if [ "$#" -gt 0 ]; then
    exec "$@"
fi

registry migrate
exec registry serve --host 0.0.0.0 --port 8000 --workers "${WEB_CONCURRENCY:-2}"
