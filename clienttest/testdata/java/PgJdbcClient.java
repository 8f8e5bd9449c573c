// pgjdbc against Sluice: usage java PgJdbcClient HOST:PORT.
//
// With prepareThreshold=0 pgjdbc sends unnamed statements with text results;
// with prepareThreshold=-1 it prepares every statement on the server from
// the first execution and transfers the types it can in binary; with
// preferQueryMode=simple it interpolates parameters itself. Each check
// prints "ok NAME" or "FAIL NAME: reason" (read by the Go test clienttest).

import java.math.BigDecimal;
import java.sql.Array;
import java.sql.Connection;
import java.sql.DatabaseMetaData;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.LocalDate;
import java.time.LocalDateTime;
import java.time.LocalTime;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.UUID;

public class PgJdbcClient {
    interface Check {
        void run() throws Exception;
    }

    static int failures;
    static String url;

    static void check(String name, Check c) {
        long start = System.nanoTime();
        try {
            c.run();
            System.out.printf("ok %s (%d ms)%n", name, (System.nanoTime() - start) / 1_000_000);
        } catch (Throwable e) {
            failures++;
            System.out.println("FAIL " + name + ": " + String.valueOf(e).replace('\n', ' '));
        }
        System.out.flush();
    }

    static void expect(Object got, Object want, String what) {
        if (!Objects.deepEquals(got, want)) {
            throw new AssertionError(what + ": got " + show(got) + ", want " + show(want));
        }
    }

    static String show(Object v) {
        if (v instanceof Object[]) return Arrays.deepToString((Object[]) v);
        if (v instanceof byte[]) return Arrays.toString((byte[]) v);
        return v + (v == null ? "" : " (" + v.getClass().getSimpleName() + ")");
    }

    static Connection connect(String params) throws SQLException {
        return DriverManager.getConnection(url + params);
    }

    // Each row: SQL type, parameter, value getObject returns (null: compare
    // getString with the text form instead), text form.
    static final Object[][] TYPES = {
        {"bool", true, true, "true"},
        {"int2", (short) -7, -7, "-7"},
        {"int4", 123456, 123456, "123456"},
        {"int8", 1L << 40, 1L << 40, "1099511627776"},
        {"float4", 1.5f, 1.5f, "1.5"},
        {"float8", 2.25, 2.25, "2.25"},
        {"numeric", new BigDecimal("12345.678"), new BigDecimal("12345.678"), "12345.678"},
        {"text", "héllo", "héllo", "héllo"},
        {"varchar(10)", "abc", "abc", "abc"},
        {"bytea", new byte[] {(byte) 0xde, (byte) 0xad, (byte) 0xbe, (byte) 0xef},
            new byte[] {(byte) 0xde, (byte) 0xad, (byte) 0xbe, (byte) 0xef}, "\\xdeadbeef"},
        {"date", LocalDate.of(2024, 2, 29), null, "2024-02-29"},
        {"time", LocalTime.of(13, 14, 15, 500_000_000), null, "13:14:15.5"},
        {"timestamp", LocalDateTime.of(2024, 1, 2, 3, 4, 5, 600_000_000), null, "2024-01-02 03:04:05.6"},
        {"timestamptz", OffsetDateTime.of(2024, 1, 2, 3, 4, 5, 0, ZoneOffset.UTC), null, "2024-01-02 03:04:05+00"},
        {"interval", "1 day 02:03:04", null, "1 day 02:03:04"},
        {"uuid", UUID.fromString("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"),
            UUID.fromString("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"), "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"},
        {"json", "{\"a\": [1, 2]}", null, "{\"a\": [1, 2]}"},
        {"jsonb", "{\"b\": 1, \"a\": [1, 2]}", null, "{\"a\": [1, 2], \"b\": 1}"},
        {"int4[]", new Integer[] {1, 2, 3}, new Integer[] {1, 2, 3}, "{1,2,3}"},
        {"text[]", new String[] {"a", "b c"}, new String[] {"a", "b c"}, "{a,\"b c\"}"},
    };

    static void bind(Connection c, PreparedStatement ps, int i, String typ, Object v, boolean simple) throws SQLException {
        if (simple && v instanceof byte[]) {
            // pgjdbc's simple mode sends a bytea parameter as a bare "?"
            // (PostgreSQL rejects it too): send the text form.
            ps.setObject(i, "\\xdeadbeef", java.sql.Types.OTHER);
        } else if (v instanceof Integer[]) {
            ps.setArray(i, c.createArrayOf("int4", (Object[]) v));
        } else if (v instanceof String[]) {
            ps.setArray(i, c.createArrayOf("text", (Object[]) v));
        } else if (v instanceof String && !typ.equals("text") && !typ.startsWith("varchar")) {
            ps.setObject(i, v, java.sql.Types.OTHER);
        } else {
            ps.setObject(i, v);
        }
    }

    static Object value(ResultSet rs, int col, Object want) throws SQLException {
        Object v = rs.getObject(col);
        if (v instanceof Array) return ((Array) v).getArray();
        if (v instanceof Short) return ((Short) v).intValue();
        if (want instanceof Float && v instanceof Double) return ((Double) v).floatValue();
        return v;
    }

    static Check types(String prefix, String params) {
        boolean simple = params.contains("preferQueryMode=simple");
        return () -> {
            try (Connection c = connect(params)) {
                for (int i = 0; i < TYPES.length; i++) {
                    String typ = (String) TYPES[i][0];
                    Object param = TYPES[i][1], want = TYPES[i][2];
                    String text = (String) TYPES[i][3], tbl = prefix + "_types_" + i;
                    try (Statement st = c.createStatement()) {
                        st.execute("CREATE TABLE " + tbl + " (id int PRIMARY KEY, v " + typ + ")");
                    }
                    // Run each statement more than once: prepared statements
                    // switch to server-side (binary) plans after a threshold.
                    for (int round = 0; round < 2; round++) {
                        try (PreparedStatement ps = c.prepareStatement("INSERT INTO " + tbl + " VALUES (?, ?)")) {
                            ps.setInt(1, round);
                            bind(c, ps, 2, typ, param, simple);
                            expect(ps.executeUpdate(), 1, typ + " insert");
                        }
                        try (PreparedStatement ps = c.prepareStatement("SELECT v, v::text FROM " + tbl + " WHERE id = ?")) {
                            ps.setInt(1, round);
                            try (ResultSet rs = ps.executeQuery()) {
                                expect(rs.next(), true, typ + " row");
                                if (want != null) expect(value(rs, 1, want), want, typ);
                                if (want == null) expect(rs.getString(1), text, typ + " getString");
                                expect(rs.getString(2), text, typ + "::text");
                                if (param instanceof LocalDate || param instanceof LocalTime || param instanceof LocalDateTime
                                        || param instanceof OffsetDateTime) {
                                    expect(rs.getObject(1, param.getClass()), param, typ + " getObject");
                                }
                            }
                        }
                        try (PreparedStatement ps = c.prepareStatement("SELECT ?::" + typ + ", NULL::" + typ)) {
                            bind(c, ps, 1, typ, param, simple);
                            try (ResultSet rs = ps.executeQuery()) {
                                rs.next();
                                if (want == null) expect(rs.getString(1), text, typ + " parameter getString");
                                if (want != null) expect(value(rs, 1, want), want, typ + " parameter");
                                expect(rs.getObject(2), null, typ + " NULL");
                            }
                        }
                    }
                }
            }
        };
    }

    static List<Object> ids(Connection c, String sql) throws SQLException {
        List<Object> out = new ArrayList<>();
        try (Statement st = c.createStatement(); ResultSet rs = st.executeQuery(sql)) {
            while (rs.next()) out.add(rs.getObject(1));
        }
        return out;
    }

    public static void main(String[] args) throws Exception {
        url = "jdbc:postgresql://" + args[0] + "/sluice?user=sluice&ApplicationName=pgjdbc-test";
        Connection[] main = new Connection[1];
        check("connect", () -> {
            main[0] = connect("");
            DatabaseMetaData md = main[0].getMetaData();
            expect(md.getDatabaseMajorVersion(), 16, "major version");
            expect(ids(main[0], "SELECT 1"), List.of(1), "SELECT 1");
        });
        if (main[0] == null) System.exit(1);
        Connection c = main[0];
        check("types_text", types("jt", "&prepareThreshold=0"));
        check("types_binary", types("jb", "&prepareThreshold=-1&binaryTransfer=true"));
        check("types_simple", types("js", "&preferQueryMode=simple"));
        check("result_metadata", () -> {
            // Types outside pgjdbc's own table are looked up in pg_type.
            int[] want = {java.sql.Types.BIT, java.sql.Types.SMALLINT, java.sql.Types.INTEGER, java.sql.Types.BIGINT,
                java.sql.Types.REAL, java.sql.Types.DOUBLE, java.sql.Types.NUMERIC, java.sql.Types.VARCHAR,
                java.sql.Types.VARCHAR, java.sql.Types.BINARY, java.sql.Types.DATE, java.sql.Types.TIME,
                java.sql.Types.TIMESTAMP, java.sql.Types.TIMESTAMP, java.sql.Types.OTHER, java.sql.Types.OTHER,
                java.sql.Types.OTHER, java.sql.Types.OTHER, java.sql.Types.ARRAY, java.sql.Types.ARRAY};
            for (int i = 0; i < TYPES.length; i++) {
                try (Statement st = c.createStatement(); ResultSet rs = st.executeQuery("SELECT v FROM jt_types_" + i)) {
                    expect(rs.getMetaData().getColumnType(1), want[i], TYPES[i][0] + " column type");
                }
            }
        });
        check("prepared", () -> {
            try (Statement st = c.createStatement()) {
                st.execute("CREATE TABLE jv_prep (id int PRIMARY KEY, name text)");
            }
            try (PreparedStatement ins = c.prepareStatement("INSERT INTO jv_prep VALUES (?, ?)");
                 PreparedStatement sel = c.prepareStatement("SELECT name FROM jv_prep WHERE id = ?")) {
                for (int i = 0; i < 10; i++) {
                    ins.setInt(1, i);
                    ins.setString(2, "n" + i);
                    ins.executeUpdate();
                    sel.setInt(1, i);
                    try (ResultSet rs = sel.executeQuery()) {
                        expect(rs.next(), true, "row " + i);
                        expect(rs.getString(1), "n" + i, "name");
                    }
                }
                for (int i = 10; i < 20; i++) {
                    ins.setInt(1, i);
                    ins.setString(2, "b" + i);
                    ins.addBatch();
                }
                expect(ins.executeBatch().length, 10, "batch");
            }
            expect(ids(c, "SELECT count(*) FROM jv_prep"), List.of(20L), "count");
        });
        check("transactions", () -> {
            try (Statement st = c.createStatement()) {
                st.execute("CREATE TABLE jv_txn (id int PRIMARY KEY)");
            }
            try (Connection tx = connect("")) {
                tx.setAutoCommit(false);
                try (Statement st = tx.createStatement()) {
                    st.executeUpdate("INSERT INTO jv_txn VALUES (1)");
                    tx.commit();
                    st.executeUpdate("INSERT INTO jv_txn VALUES (2)");
                    tx.rollback();
                }
            }
            expect(ids(c, "SELECT id FROM jv_txn ORDER BY id"), List.of(1), "committed rows");
        });
        check("errors", () -> {
            try (Statement st = c.createStatement()) {
                try {
                    st.executeQuery("SELECT * FROM jv_nope");
                    throw new AssertionError("no error");
                } catch (SQLException e) {
                    expect(e.getSQLState(), "42P01", "undefined table " + e);
                }
                try (PreparedStatement ps = c.prepareStatement("SELECT 1 / ?")) {
                    ps.setInt(1, 0);
                    ps.executeQuery();
                    throw new AssertionError("no error");
                } catch (SQLException e) {
                    expect(e.getSQLState(), "22012", "division by zero " + e);
                }
            }
            expect(ids(c, "SELECT 2"), List.of(2), "after errors");
        });
        check("cancel", () -> {
            try (Statement st = c.createStatement()) {
                new Thread(() -> {
                    try {
                        Thread.sleep(300);
                        st.cancel();
                    } catch (Exception e) {
                        e.printStackTrace();
                    }
                }).start();
                long start = System.nanoTime();
                try {
                    st.execute("SELECT pg_sleep(10)");
                    throw new AssertionError("not canceled");
                } catch (SQLException e) {
                    expect(e.getSQLState(), "57014", "canceled " + e);
                }
                expect((System.nanoTime() - start) < 5_000_000_000L, true, "cancel took under 5s");
                st.setQueryTimeout(1);
                try {
                    st.execute("SELECT pg_sleep(10)");
                    throw new AssertionError("no timeout");
                } catch (SQLException e) {
                    expect(e.getSQLState(), "57014", "query timeout " + e);
                }
            }
            expect(ids(c, "SELECT 3"), List.of(3), "after cancel");
        });
        check("subscribe_cursor", () -> {
            try (Statement st = c.createStatement()) {
                st.execute("CREATE STREAM jv_events (k text, v int8)");
                st.execute("CREATE MATERIALIZED VIEW jv_totals AS SELECT k, sum(v) AS total FROM jv_events GROUP BY k");
                st.execute("INSERT INTO jv_events VALUES ('a', 1), ('b', 2)");
            }
            try (Connection sub = connect("")) {
                sub.setAutoCommit(false);
                Map<String, Long> state = new HashMap<>();
                int[] retractions = {0};
                long deadline = System.nanoTime() + 10_000_000_000L;
                try (Statement st = sub.createStatement()) {
                    st.execute("DECLARE c CURSOR FOR SUBSCRIBE jv_totals");
                    Check fetch = () -> {
                        try (ResultSet rs = st.executeQuery("FETCH 10 c WITH (timeout = '1s')")) {
                            expect(rs.getMetaData().getColumnName(1), "sluice_epoch", "column 1");
                            expect(rs.getMetaData().getColumnName(2), "sluice_diff", "column 2");
                            while (rs.next()) {
                                String k = rs.getString("k");
                                long total = rs.getLong("total");
                                if (rs.getLong("sluice_diff") < 0) {
                                    retractions[0]++;
                                    if (Long.valueOf(total).equals(state.get(k))) state.remove(k);
                                } else {
                                    state.put(k, total);
                                }
                            }
                        }
                    };
                    Map<String, Long> want = Map.of("a", 1L, "b", 2L);
                    while (!state.equals(want) && System.nanoTime() < deadline) fetch.run();
                    expect(state, want, "snapshot");
                    retractions[0] = 0;
                    try (Statement ins = c.createStatement()) {
                        ins.execute("INSERT INTO jv_events VALUES ('a', 3)");
                    }
                    want = Map.of("a", 4L, "b", 2L);
                    while (!state.equals(want) && System.nanoTime() < deadline) fetch.run();
                    expect(state, want, "changes");
                    expect(retractions[0], 1, "retractions");
                }
                sub.commit();
            }
        });
        check("fetch_size", () -> {
            // With a fetch size pgjdbc runs a portal for so many rows at a time.
            try (Statement st = c.createStatement()) {
                st.execute("CREATE TABLE jv_big (id int PRIMARY KEY)");
                st.execute("INSERT INTO jv_big SELECT g FROM generate_series(1, 100) AS g");
            }
            c.setAutoCommit(false);
            try (PreparedStatement ps = c.prepareStatement("SELECT id FROM jv_big WHERE id > ? ORDER BY id")) {
                ps.setFetchSize(7);
                ps.setInt(1, 10);
                long sum = 0, n = 0;
                try (ResultSet rs = ps.executeQuery()) {
                    while (rs.next()) {
                        sum += rs.getInt(1);
                        n++;
                    }
                }
                expect(n, 90L, "rows");
                expect(sum, 4995L, "sum");
            } finally {
                c.commit();
                c.setAutoCommit(true);
            }
        });
        check("copy", () -> {
            org.postgresql.copy.CopyManager cm = c.unwrap(org.postgresql.PGConnection.class).getCopyAPI();
            try (Statement st = c.createStatement()) {
                st.execute("CREATE TABLE jv_copy (id int PRIMARY KEY, v text)");
            }
            long in = cm.copyIn("COPY jv_copy FROM STDIN WITH (FORMAT csv)", new java.io.StringReader("1,a\n2,\"b,c\"\n"));
            expect(in, 2L, "copy in");
            java.io.StringWriter out = new java.io.StringWriter();
            long n = cm.copyOut("COPY (SELECT * FROM jv_copy ORDER BY id) TO STDOUT WITH (FORMAT csv)", out);
            expect(n, 2L, "copy out rows");
            expect(out.toString(), "1,a\n2,\"b,c\"\n", "copy out");
        });
        check("metadata", () -> {
            DatabaseMetaData md = c.getMetaData();
            List<String> tables = new ArrayList<>();
            try (ResultSet rs = md.getTables(null, "public", "jv_%", new String[] {"TABLE", "MATERIALIZED VIEW"})) {
                while (rs.next()) tables.add(rs.getString("TABLE_NAME") + ":" + rs.getString("TABLE_TYPE"));
            }
            expect(tables, List.of("jv_totals:MATERIALIZED VIEW", "jv_big:TABLE", "jv_copy:TABLE", "jv_events:TABLE", "jv_prep:TABLE", "jv_txn:TABLE"), "getTables");
            List<String> cols = new ArrayList<>();
            try (ResultSet rs = md.getColumns(null, "public", "jv_prep", null)) {
                while (rs.next()) cols.add(rs.getString("COLUMN_NAME") + ":" + rs.getString("TYPE_NAME"));
            }
            expect(cols, List.of("id:int4", "name:text"), "getColumns");
            List<String> keys = new ArrayList<>();
            try (ResultSet rs = md.getPrimaryKeys(null, "public", "jv_prep")) {
                while (rs.next()) keys.add(rs.getString("COLUMN_NAME") + ":" + rs.getInt("KEY_SEQ") + ":" + rs.getString("PK_NAME"));
            }
            expect(keys, List.of("id:1:jv_prep_pkey"), "getPrimaryKeys");
            List<String> idx = new ArrayList<>();
            try (ResultSet rs = md.getIndexInfo(null, "public", "jv_totals", false, false)) {
                while (rs.next()) idx.add(rs.getString("INDEX_NAME") + ":" + rs.getString("COLUMN_NAME") + ":" + rs.getBoolean("NON_UNIQUE"));
            }
            expect(idx, List.of("jv_totals_k_idx:k:false"), "getIndexInfo of a view");
            int types = 0;
            try (ResultSet rs = md.getTypeInfo()) {
                while (rs.next()) types++;
            }
            expect(types > 20, true, "getTypeInfo rows " + types);
            cols.clear();
            try (ResultSet rs = md.getColumns(null, "public", "jv_totals", null)) {
                while (rs.next()) cols.add(rs.getString("COLUMN_NAME") + ":" + rs.getString("TYPE_NAME"));
            }
            expect(cols, List.of("k:text", "total:numeric"), "getColumns of a view");
        });
        c.close();
        System.exit(failures == 0 ? 0 : 1);
    }
}
