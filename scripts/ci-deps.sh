#!/usr/bin/env bash
# ci-deps.sh — install what `make ci` needs beyond Go: PostgreSQL server and
# psql, kcat (librdkafka's producer/consumer), the Postgres drivers of the
# client-compatibility suite (clienttest: psycopg2, psycopg 3 and SQLAlchemy
# for Debian's /usr/bin/python3, pgjdbc and a JDK), and the npm packages of
# the JavaScript client tests (kafkajs, node-postgres).
set -euo pipefail
cd "$(dirname "$0")/.."

have_pg() {
	command -v psql >/dev/null 2>&1 && ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1
}

want=()
have_pg || want+=(postgresql postgresql-client)
command -v kcat >/dev/null 2>&1 || want+=(kcat)
have_py() { [[ -x /usr/bin/python3 ]] && /usr/bin/python3 -c "import $1" >/dev/null 2>&1; }
have_py psycopg2 || want+=(python3-psycopg2)
have_py psycopg || want+=(python3-psycopg)
have_py sqlalchemy || want+=(python3-sqlalchemy)
[[ -f /usr/share/java/postgresql.jar ]] || want+=(libpostgresql-jdbc-java)
command -v javac >/dev/null 2>&1 || want+=(default-jdk-headless)
command -v npm >/dev/null 2>&1 || want+=(nodejs npm)
if ((${#want[@]})); then
	SUDO=
	if [[ $(id -u) -ne 0 ]]; then SUDO=sudo; fi
	export DEBIAN_FRONTEND=noninteractive
	$SUDO apt-get update
	$SUDO apt-get install -y --no-install-recommends "${want[@]}"
else
	echo "ci-deps: postgresql, psql, kcat and the Postgres drivers already installed" >&2
fi
have_pg || { echo "ci-deps: postgresql install did not provide initdb and psql" >&2; exit 1; }
command -v kcat >/dev/null 2>&1 || { echo "ci-deps: kcat did not install" >&2; exit 1; }
for m in psycopg2 psycopg sqlalchemy; do
	have_py $m || { echo "ci-deps: /usr/bin/python3 cannot import $m" >&2; exit 1; }
done

# JavaScript clients: installed from their lock files.
for dir in connector/kafka/testdata/kafkajs clienttest/testdata/node; do
	if [[ ! -d $dir/node_modules ]]; then
		(cd "$dir" && npm ci --no-audit --no-fund)
	fi
done
