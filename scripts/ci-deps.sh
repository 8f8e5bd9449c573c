#!/usr/bin/env bash
# ci-deps.sh — install what `make ci` needs beyond Go: PostgreSQL server and psql.
set -euo pipefail

have_pg() {
	command -v psql >/dev/null 2>&1 && ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1
}

if have_pg; then
	echo "ci-deps: postgresql and postgresql-client already installed" >&2
	exit 0
fi
SUDO=
if [[ $(id -u) -ne 0 ]]; then SUDO=sudo; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update
$SUDO apt-get install -y --no-install-recommends postgresql postgresql-client
have_pg || { echo "ci-deps: postgresql install did not provide initdb and psql" >&2; exit 1; }
