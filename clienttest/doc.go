// Package clienttest runs the Postgres drivers Sluice's users already have
// against a Sluice server in the test process: psycopg2, psycopg 3 and
// SQLAlchemy 1.4 (Debian's packages, in Debian's /usr/bin/python3),
// node-postgres (npm pg, installed by npm ci in testdata/node) and pgjdbc
// (Debian's /usr/share/java/postgresql.jar on the JDK). Each client runs a
// script from testdata that prints "ok NAME" or "FAIL NAME: reason" per
// check (connect, every type as a parameter and a result in text and, where
// the driver can, binary, prepared statements, transactions, SQLSTATEs,
// cancel, SUBSCRIBE through DECLARE CURSOR and FETCH; named cursors and
// COPY for psycopg, fetch size, COPY, DatabaseMetaData and TLS (sslmode
// require, verify-ca, verify-full with a CA made by the test) for pgjdbc,
// reflection for SQLAlchemy); the test wants every check of its client ok. A missing client skips its test, or fails it when
// SLUICE_REQUIRE_CLIENTS is set (scripts/ci.sh sets it; scripts/ci-deps.sh
// installs the clients). It holds only tests (build tag integration).
package clienttest
