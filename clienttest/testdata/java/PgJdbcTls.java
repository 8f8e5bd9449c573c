// pgjdbc over TLS against Sluice: usage java PgJdbcTls HOST:PORT CA_PEM OTHER_CA_PEM PASSWORD.
//
// The server requires TLS and SCRAM-SHA-256 (user sluice). Each check prints
// "ok NAME" or "FAIL NAME: reason" (read by the Go test clienttest).

import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.Properties;

public class PgJdbcTls {
    interface Check {
        void run() throws Exception;
    }

    static void check(String name, Check c) {
        try {
            c.run();
            System.out.println("ok " + name);
        } catch (Throwable e) {
            System.out.println("FAIL " + name + ": " + String.valueOf(e).replace('\n', ' '));
        }
        System.out.flush();
    }

    static String base;
    static String password;

    static Connection connect(String params) throws SQLException {
        Properties p = new Properties();
        p.setProperty("user", "sluice");
        p.setProperty("password", password);
        return DriverManager.getConnection(base + params, p);
    }

    // query runs a statement that reads a value, so the session works.
    static void query(Connection c) throws SQLException {
        try (Statement st = c.createStatement(); ResultSet rs = st.executeQuery("SELECT 40 + 2")) {
            if (!rs.next() || rs.getInt(1) != 42) throw new AssertionError("SELECT 40 + 2");
        }
    }

    // refused wants the connection to fail with an SQLException whose
    // SQLSTATE, message or cause's message contains want.
    static void refused(String params, String want) throws Exception {
        try (Connection c = connect(params)) {
            throw new AssertionError("connected with " + params);
        } catch (SQLException e) {
            String all = e.getSQLState() + " " + e + " " + e.getCause();
            if (!all.contains(want)) throw new AssertionError("want \"" + want + "\", got " + all);
        }
    }

    public static void main(String[] args) throws Exception {
        base = "jdbc:postgresql://" + args[0] + "/sluice?ApplicationName=pgjdbc-tls";
        String ca = args[1], otherCA = args[2];
        password = args[3];
        check("tls_require", () -> {
            try (Connection c = connect("&sslmode=require")) {
                query(c);
            }
        });
        check("tls_verify_ca", () -> {
            try (Connection c = connect("&sslmode=verify-ca&sslrootcert=" + ca)) {
                query(c);
            }
        });
        check("tls_verify_full", () -> {
            try (Connection c = connect("&sslmode=verify-full&sslrootcert=" + ca)) {
                query(c);
            }
        });
        check("tls_verify_full_other_ca", () -> refused("&sslmode=verify-full&sslrootcert=" + otherCA, "SSL"));
        check("tls_disabled_refused", () -> refused("&sslmode=disable", "connection without SSL is not allowed"));
        check("tls_wrong_password", () -> {
            password = "wrong";
            try {
                refused("&sslmode=verify-full&sslrootcert=" + ca, "28P01");
            } finally {
                password = args[3];
            }
        });
    }
}
