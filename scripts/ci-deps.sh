#!/usr/bin/env bash
# ci-deps.sh — install what `make ci` needs beyond Go: PostgreSQL server and
# psql, kcat (librdkafka's producer/consumer), and the npm packages of the
# JavaScript client tests.
set -euo pipefail
cd "$(dirname "$0")/.."

have_pg() {
	command -v psql >/dev/null 2>&1 && ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1
}

want=()
have_pg || want+=(postgresql postgresql-client)
command -v kcat >/dev/null 2>&1 || want+=(kcat)
if ((${#want[@]})); then
	SUDO=
	if [[ $(id -u) -ne 0 ]]; then SUDO=sudo; fi
	export DEBIAN_FRONTEND=noninteractive
	$SUDO apt-get update
	$SUDO apt-get install -y --no-install-recommends "${want[@]}"
else
	echo "ci-deps: postgresql, psql and kcat already installed" >&2
fi
have_pg || { echo "ci-deps: postgresql install did not provide initdb and psql" >&2; exit 1; }
command -v kcat >/dev/null 2>&1 || { echo "ci-deps: kcat did not install" >&2; exit 1; }

# JavaScript clients: installed from their lock files.
for dir in connector/kafka/testdata/kafkajs; do
	if [[ ! -d $dir/node_modules ]]; then
		(cd "$dir" && npm ci --no-audit --no-fund)
	fi
done
