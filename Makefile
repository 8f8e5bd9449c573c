GO ?= go
FUZZTIME ?= 10s

.PHONY: all build test ci demo bench fuzz fuzz-views slt-pg

all: build

build:
	$(GO) build -o bin/sluice ./cmd/sluice

# Needs nothing but Go: TestPostgres skips without SLUICE_TEST_PG_URL.
# The engine package runs ~4 min alone; on a busy machine it outgrows go
# test's default 10 min per package.
test:
	$(GO) vet ./...
	$(GO) test -timeout 30m ./...

# Installs PostgreSQL if missing, runs everything against a throw-away cluster,
# and stops the cluster even on failure (see scripts/ci.sh).
ci:
	GO=$(GO) MAKE=$(MAKE) scripts/ci.sh

demo: build
	bin/sluice demo

bench: build
	bin/sluice bench $(if $(FULL),--full,--short)

# Runs every Fuzz* target for FUZZTIME each (go test -fuzz takes one target at a time).
# Minimizing is capped: the checkpoint seeds are ~100 KB, and minimizing each new
# interesting input for the default minute left FuzzRestore at 17 executions in 150 s.
fuzz:
	@set -e; for pkg in $$($(GO) list ./...); do \
	  for f in $$($(GO) test -list '^Fuzz' $$pkg 2>/dev/null | grep '^Fuzz' || true); do \
	    echo "fuzz $$pkg $$f"; \
	    $(GO) test $$pkg -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) -fuzzminimizetime 5s; \
	  done; \
	done

# Random materialized views on fresh seeds for FUZZTIME (CI replays a fixed
# run of seeds); a failing view is shrunk and saved under
# viewtest/testdata/regressions/.
fuzz-views:
	VIEWTEST_DURATION=$(FUZZTIME) $(GO) test ./viewtest -run TestViews -count=1 -timeout 0

# The .slt corpus against a throw-away PostgreSQL, without the rest of CI.
slt-pg:
	@set -e; url=$$(scripts/pg-test-cluster.sh start); \
	SLUICE_TEST_PG_URL=$$url $(GO) test -count=1 ./sqllogictest -run TestPostgres
