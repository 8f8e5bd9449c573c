"""Shared parts of the Python client scripts: the check reporter and the
values of every type Sluice supports.

A script calls check(name, fn) for each check; it prints "ok NAME" or
"FAIL NAME: reason" and goes on, so one run shows every failure. The Go
test (clienttest) reads these lines.
"""

import datetime
import decimal
import sys
import time
import traceback
import uuid

failures = 0


def check(name, fn):
    global failures
    start = time.monotonic()
    try:
        fn()
    except Exception as e:  # noqa: BLE001 - any failure is reported
        failures += 1
        detail = "".join(traceback.format_exception_only(type(e), e)).strip()
        print(f"FAIL {name}: {detail}".replace("\n", " | "), flush=True)
        return
    print(f"ok {name} ({(time.monotonic() - start) * 1000:.0f} ms)", flush=True)


def expect(got, want, what=""):
    if got != want:
        raise AssertionError(f"{what}: got {got!r}, want {want!r}")


def finish():
    sys.exit(1 if failures else 0)


UTC = datetime.timezone.utc

# (SQL type, Python value, text form Sluice prints). json values are dumped
# by each script with its driver's Json wrapper.
TYPES = [
    ("bool", True, "true"),
    ("int2", -7, "-7"),
    ("int4", 123456, "123456"),
    ("int8", 1 << 40, "1099511627776"),
    ("float4", 1.5, "1.5"),
    ("float8", 2.25, "2.25"),
    ("numeric", decimal.Decimal("12345.678"), "12345.678"),
    ("text", "héllo", "héllo"),
    ("varchar(10)", "abc", "abc"),
    ("bytea", b"\xde\xad\xbe\xef", "\\xdeadbeef"),
    ("date", datetime.date(2024, 2, 29), "2024-02-29"),
    ("time", datetime.time(13, 14, 15, 500000), "13:14:15.5"),
    ("timestamp", datetime.datetime(2024, 1, 2, 3, 4, 5, 600000), "2024-01-02 03:04:05.6"),
    ("timestamptz", datetime.datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC), "2024-01-02 03:04:05+00"),
    ("interval", datetime.timedelta(days=1, hours=2, minutes=3, seconds=4), "1 day 02:03:04"),
    ("uuid", uuid.UUID("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"), "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"),
    ("json", {"a": [1, 2]}, '{"a": [1, 2]}'),
    ("jsonb", {"b": 1, "a": [1, 2]}, '{"a": [1, 2], "b": 1}'),
    ("int4[]", [1, 2, 3], "{1,2,3}"),
    ("text[]", ["a", "b c"], '{a,"b c"}'),
]


def table_name(prefix, i):
    return f"{prefix}_types_{i}"


def apply_changes(state, rows):
    """Folds SUBSCRIBE rows (sluice_epoch, sluice_diff, k, total) into state
    {k: total}; returns how many retractions it saw."""
    retractions = 0
    for _epoch, diff, k, total in rows:
        if diff < 0:
            retractions += 1
            if state.get(k) == total:
                del state[k]
        else:
            state[k] = total
    return retractions


def poll(fn, want, what, timeout=10.0):
    """Calls fn until it returns want, at most timeout seconds."""
    deadline = time.monotonic() + timeout
    got = fn()
    while got != want and time.monotonic() < deadline:
        time.sleep(0.05)
        got = fn()
    expect(got, want, what)
