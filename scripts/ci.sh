#!/usr/bin/env bash
# ci.sh — what `make ci` runs: deps, a throw-away PostgreSQL, unit tests, a
# minute of random materialized views, the .slt corpus against PostgreSQL, and
# the integration suites. The cluster is stopped even when a step fails.
set -euo pipefail
cd "$(dirname "$0")/.."

GO=${GO:-go}
scripts/ci-deps.sh
trap 'scripts/pg-test-cluster.sh stop' EXIT
SLUICE_TEST_PG_URL=$(scripts/pg-test-cluster.sh start)
export SLUICE_TEST_PG_URL
# Client-compatibility tests fail, rather than skip, when a client is missing.
export SLUICE_REQUIRE_CLIENTS=1
# The random-view tests explore fixed seeds in every step, so that a new
# seed cannot fail a landing (make fuzz-views explores new ones).
export VIEWTEST_SEED_BASE=1
echo "ci: PostgreSQL at $SLUICE_TEST_PG_URL" >&2

# Run every step even when one fails, so one CI run shows all breakage.
failed=()
step() {
	echo "ci: $*" >&2
	"$@" || failed+=("$*")
}
step ${MAKE:-make} test
# Random materialized views checked against their queries: a fixed run of
# seeds, so that CI explores the same cases on every commit (new seeds are
# explored by `make fuzz-views`, whose failures become regression files).
VIEWTEST_RUNS=250 step "$GO" test ./viewtest -run TestViews -count=1
step "$GO" test -count=1 ./sqllogictest -run TestPostgres -v
PATH=$PATH:$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n1) \
	step "$GO" test -count=1 -timeout 30m -tags integration ./...
if ((${#failed[@]})); then
	printf 'ci: FAILED: %s\n' "${failed[@]}" >&2
	exit 1
fi
echo "ci: all steps passed" >&2
