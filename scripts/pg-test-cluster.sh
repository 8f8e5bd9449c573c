#!/usr/bin/env bash
# pg-test-cluster.sh — a throw-away PostgreSQL cluster for Sluice's tests.
#
#   scripts/pg-test-cluster.sh [start]   start (or reuse) the cluster; print its URL
#   scripts/pg-test-cluster.sh url       print the URL of the running cluster
#   scripts/pg-test-cluster.sh status    exit 0 if it is running
#   scripts/pg-test-cluster.sh stop      stop it and delete its files
#
# The cluster lives in $SLUICE_PG_DIR (default /tmp/sluice-pg-test) and listens on
# 127.0.0.1 only, on $SLUICE_PG_PORT or the first free port from 54329, with trust
# auth and superuser "postgres". initdb refuses to run as root, so as root the
# cluster runs as user "sluicetest" (created if missing). Start is idempotent: a
# running cluster is reused; a dead or half-made one is cleaned up and recreated.
set -euo pipefail

DIR=${SLUICE_PG_DIR:-/tmp/sluice-pg-test}
DATA=$DIR/data
LOG=$DIR/postgres.log
RUN_USER=sluicetest

log() { echo "pg-test-cluster: $*" >&2; }
die() { log "$*"; exit 1; }

pg_bin() {
	local d
	if command -v pg_config >/dev/null 2>&1; then
		d=$(pg_config --bindir)
		if [[ -x $d/initdb ]]; then echo "$d"; return; fi
	fi
	# Debian keeps the server binaries out of PATH; take the newest version.
	d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1 || true)
	if [[ -n $d && -x $d/initdb ]]; then echo "$d"; return; fi
	d=$(dirname "$(command -v initdb 2>/dev/null || echo /nonexistent/x)")
	if [[ -x $d/initdb ]]; then echo "$d"; return; fi
	die "no PostgreSQL server binaries (initdb) found; install postgresql"
}

# as_owner runs a command as the cluster's owner.
as_owner() {
	if [[ $(id -u) -eq 0 ]]; then
		runuser -u "$RUN_USER" -- "$@"
	else
		"$@"
	fi
}

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# free_port prints the first port from $1 nothing listens on.
free_port() {
	local p=${SLUICE_PG_PORT:-$1}
	if [[ -n ${SLUICE_PG_PORT:-} ]]; then echo "$p"; return; fi
	while port_in_use "$p"; do
		p=$((p + 1))
		((p < 65000)) || die "no free port"
	done
	echo "$p"
}

url() { echo "postgres://postgres@127.0.0.1:$(cat "$DIR/port")/postgres?sslmode=disable"; }

running() {
	[[ -f $DIR/port && -f $DATA/PG_VERSION ]] || return 1
	as_owner "$BIN/pg_ctl" -D "$DATA" status >/dev/null 2>&1 || return 1
	"$BIN/pg_isready" -q -h 127.0.0.1 -p "$(cat "$DIR/port")" -t 5 >/dev/null 2>&1
}

stop() {
	if [[ -f $DATA/PG_VERSION ]]; then
		as_owner "$BIN/pg_ctl" -D "$DATA" -m fast -w stop >/dev/null 2>&1 || true
	fi
	if [[ -f $DATA/postmaster.pid ]]; then
		# pg_ctl failed (e.g. binaries replaced); stop the postmaster we started.
		local pid
		pid=$(head -n1 "$DATA/postmaster.pid" 2>/dev/null || true)
		if [[ $pid =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null; then
			kill -INT "$pid" 2>/dev/null || true
			for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
		fi
	fi
	rm -rf "$DIR"
}

start() {
	if running; then
		log "reusing cluster in $DIR"
		url
		return
	fi
	stop # clear any half-made or dead cluster
	if [[ $(id -u) -eq 0 ]] && ! id "$RUN_USER" >/dev/null 2>&1; then
		log "creating user $RUN_USER"
		useradd --system --no-create-home --shell /usr/sbin/nologin "$RUN_USER" 2>/dev/null ||
			useradd -r -M -s /bin/false "$RUN_USER"
	fi
	mkdir -p "$DIR"
	if [[ $(id -u) -eq 0 ]]; then chown "$RUN_USER" "$DIR"; fi
	chmod 700 "$DIR"
	as_owner "$BIN/initdb" -D "$DATA" -U postgres --auth=trust --encoding=UTF8 \
		--locale=C.UTF-8 >"$DIR/initdb.log" 2>&1 ||
		as_owner "$BIN/initdb" -D "$DATA" -U postgres --auth=trust --encoding=UTF8 \
			--no-locale >"$DIR/initdb.log" 2>&1 ||
		{ cat "$DIR/initdb.log" >&2; die "initdb failed"; }
	cat >"$DATA/pg_hba.conf" <<HBA
local all all trust
host  all all 127.0.0.1/32 trust
HBA
	# A port nothing listens on may still be some client socket's local
	# port (ports from 32768 are ephemeral), which fails postgres's bind:
	# each retry starts from the next port.
	local port=54328
	for attempt in 1 2 3; do
		port=$(free_port $((port + 1)))
		echo "$port" >"$DIR/port"
		if as_owner "$BIN/pg_ctl" -D "$DATA" -l "$LOG" -w -t 60 start \
			-o "-c listen_addresses=127.0.0.1 -p $port -c unix_socket_directories=$DIR -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=1200" \
			>/dev/null 2>&1; then
			break
		fi
		[[ -n ${SLUICE_PG_PORT:-} || $attempt -eq 3 ]] && { tail -n 20 "$LOG" >&2 || true; die "postgres did not start"; }
		log "start on port $port failed; retrying"
	done
	for _ in $(seq 100); do
		"$BIN/pg_isready" -q -h 127.0.0.1 -p "$port" && break
		sleep 0.1
	done
	running || { tail -n 20 "$LOG" >&2 || true; die "postgres is not accepting connections"; }
	log "started PostgreSQL $("$BIN/postgres" --version | awk '{print $3}') in $DIR on port $port"
	url
}

BIN=$(pg_bin)
case ${1:-start} in
start) start ;;
stop) stop ;;
url) running || die "not running"; url ;;
status) running ;;
*) die "usage: $0 [start|stop|url|status]" ;;
esac
