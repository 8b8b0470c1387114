// Drv.java: the drivers.t program for MariaDB Connector/J (Debian libmariadb-java, 2.7):
// HOST PORT USER PASSWORD DB DB2. One line per check, "ok NAME" or "not ok NAME: REASON".
// Server-side prepared statements (useServerPrepStmts); the batch is executeBatch() (bulk
// execution against MariaDB); reset is isValid() (COM_PING) and MariaDbConnection.reset()
// (COM_RESET_CONNECTION); streaming is setFetchSize().
import java.math.BigDecimal;
import java.math.BigInteger;
import java.sql.Blob;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

public class Drv {
	static String url, user, pass, db, db2;
	static Connection c;

	interface Check {
		String run() throws Exception;
	}

	static void check(String name, Check fn) {
		String why;
		try {
			why = fn.run();
		} catch (SQLException e) {
			why = "SQLException " + e.getErrorCode() + ": " + e.getMessage();
		} catch (Exception e) {
			why = e.toString();
		}
		if (why == null) {
			System.out.println("ok " + name);
		} else {
			why = why.replace('\n', ' ');
			System.out.println("not ok " + name + ": " + (why.length() > 400 ? why.substring(0, 400) : why));
		}
	}

	static Connection connect() throws SQLException {
		return DriverManager.getConnection(url, user, pass);
	}

	static Object one(Connection k, String sql) throws SQLException {
		try (Statement s = k.createStatement(); ResultSet r = s.executeQuery(sql)) {
			return r.next() ? r.getObject(1) : "no row";
		}
	}

	static String oneStr(Connection k, String sql) throws SQLException {
		return String.valueOf(one(k, sql));
	}

	static int exec(Connection k, String sql) throws SQLException {
		try (Statement s = k.createStatement()) {
			return s.executeUpdate(sql);
		}
	}

	static String show(Object v) throws SQLException {
		if (v instanceof Blob) {
			Blob b = (Blob) v;
			v = b.getBytes(1, (int) b.length());
		}
		if (v instanceof byte[]) {
			StringBuilder sb = new StringBuilder();
			for (byte x : (byte[]) v) {
				sb.append(String.format("%02x", x & 0xff));
			}
			return sb.toString();
		}
		return String.valueOf(v);
	}

	public static void main(String[] a) throws Exception {
		user = a[2];
		pass = a[3];
		db = a[4];
		db2 = a[5];
		url = "jdbc:mariadb://" + a[0] + ":" + a[1] + "/" + db + "?useServerPrepStmts=true"
		      + "&allowMultiQueries=true&useResetConnection=true&connectTimeout=10000&socketTimeout=60000";
		c = connect();
		byte[] blob = new byte[256];
		StringBuilder hex = new StringBuilder();
		for (int i = 0; i < 256; i++) {
			blob[i] = (byte) i;
			hex.append(String.format("%02x", i));
		}
		Object[][] types = {
			{"tinyint", "TINYINT", -128, "-128"},
			{"smallint", "SMALLINT", -32768, "-32768"},
			{"int", "INT", -2147483648, "-2147483648"},
			{"bigint_max", "BIGINT", 9223372036854775807L, "9223372036854775807"},
			{"bigint_unsigned_max", "BIGINT UNSIGNED", new BigInteger("18446744073709551615"),
			 "18446744073709551615"},
			{"decimal", "DECIMAL(20,6)", new BigDecimal("12345678901234.123456"),
			 "12345678901234.123456"},
			{"float", "FLOAT", 1.5f, "1.5"},
			{"double", "DOUBLE", 3.141592653589793, "3.141592653589793"},
			{"date", "DATE", java.sql.Date.valueOf("2024-02-29"), "2024-02-29"},
			{"datetime6", "DATETIME(6)", java.sql.Timestamp.valueOf("2024-02-29 13:14:15.123456"),
			 "2024-02-29 13:14:15.123456"},
			{"time", "TIME", java.sql.Time.valueOf("13:14:15"), "13:14:15"},
			{"timestamp", "TIMESTAMP NULL", java.sql.Timestamp.valueOf("2024-02-29 13:14:15"),
			 "2024-02-29 13:14:15.0"},
			{"varchar_emoji", "VARCHAR(50) CHARACTER SET utf8mb4", "h\u00e9llo \uD83D\uDC2C w\u00f6rld",
			 "h\u00e9llo \uD83D\uDC2C w\u00f6rld"},
			{"char", "CHAR(10) CHARACTER SET utf8mb4", "abc", "abc"},
			{"blob256", "BLOB", blob, hex.toString()},
			{"null", "INT NULL", null, "null"},
			{"json", "JSON", "{\"a\": [1, 2, \"\u00e9\"]}", "{\"a\": [1, 2, \"\u00e9\"]}"},
		};
		for (String t : new String[] {"types", "big", "tx", "lid", "child", "par", "bat"}) {
			exec(c, "DROP TABLE IF EXISTS " + t);
		}
		List<String> cols = new ArrayList<>(), marks = new ArrayList<>(), names = new ArrayList<>();
		for (Object[] t : types) {
			cols.add("c_" + t[0] + " " + t[1]);
			marks.add("?");
			names.add("c_" + t[0]);
		}
		exec(c, "CREATE TABLE types (id INT PRIMARY KEY, " + String.join(", ", cols) + ")");
		exec(c, "CREATE TABLE big (id INT PRIMARY KEY, b LONGBLOB)");
		exec(c, "CREATE TABLE tx (id INT PRIMARY KEY)");
		exec(c, "CREATE TABLE lid (id INT AUTO_INCREMENT PRIMARY KEY, v INT) AUTO_INCREMENT=1000");
		exec(c, "CREATE TABLE child (id INT AUTO_INCREMENT PRIMARY KEY, pid BIGINT)");
		exec(c, "CREATE TABLE par (id INT AUTO_INCREMENT PRIMARY KEY, v INT)");
		exec(c, "CREATE TABLE bat (id INT AUTO_INCREMENT PRIMARY KEY, v INT)");

		Object[] got = new Object[types.length];
		String typeErr = null;
		try {
			try (PreparedStatement p = c.prepareStatement("INSERT INTO types VALUES (1, "
			                                              + String.join(", ", marks) + ")")) {
				for (int i = 0; i < types.length; i++) {
					if (types[i][2] == null) {
						p.setNull(i + 1, java.sql.Types.INTEGER);
					} else {
						p.setObject(i + 1, types[i][2]);
					}
				}
				p.executeUpdate();
			}
			try (PreparedStatement p = c.prepareStatement("SELECT " + String.join(", ", names)
			                                              + " FROM types WHERE id = ?")) {
				p.setInt(1, 1);
				try (ResultSet r = p.executeQuery()) {
					r.next();
					for (int i = 0; i < types.length; i++) {
						got[i] = show(r.getObject(i + 1));
					}
				}
			}
		} catch (SQLException e) {
			typeErr = "SQLException " + e.getErrorCode() + ": " + e.getMessage();
		}
		for (int i = 0; i < types.length; i++) {
			final int j = i;
			final String err = typeErr;
			check("type_" + types[i][0], () -> err != null ? err
			      : types[j][3].equals(got[j]) ? null : "got " + got[j] + ", want " + types[j][3]);
		}

		check("blob_20mb", () -> {
			byte[] big = new byte[20 * 1024 * 1024];
			for (int i = 0; i < big.length; i++) {
				big[i] = (byte) (i * 7 + (i >> 12));
			}
			try (PreparedStatement p = c.prepareStatement("INSERT INTO big VALUES (1, ?)")) {
				p.setBytes(1, big);
				p.executeUpdate();
			}
			try (PreparedStatement p = c.prepareStatement("SELECT b FROM big WHERE id = ?")) {
				p.setInt(1, 1);
				try (ResultSet r = p.executeQuery()) {
					r.next();
					byte[] back = r.getBytes(1);
					return Arrays.equals(back, big) ? null : "read back " + back.length + " bytes, differ";
				}
			}
		});
		for (boolean commit : new boolean[] {true, false}) {
			check(commit ? "txn_commit" : "txn_rollback", () -> {
				int k = commit ? 1 : 2;
				c.setAutoCommit(false);
				exec(c, "INSERT INTO tx VALUES (" + k + ")");
				if (commit) {
					c.commit();
				} else {
					c.rollback();
				}
				c.setAutoCommit(true);
				try (Connection o = connect()) {
					String n = oneStr(o, "SELECT COUNT(*) FROM tx WHERE id = " + k);
					return n.equals(commit ? "1" : "0") ? null : "another connection sees " + n + " rows";
				}
			});
		}
		for (Object[] e : new Object[][] {{1062, "INSERT INTO tx VALUES (1)"}, {1064, "SELEC 1"}}) {
			check("err_" + e[0], () -> {
				int code = 0;
				try {
					exec(c, (String) e[1]);
				} catch (SQLException x) {
					code = x.getErrorCode();
				}
				if (code != (Integer) e[0]) {
					return "error " + code + ", want " + e[0];
				}
				return oneStr(c, "SELECT 1").equals("1") ? null : "connection unusable after";
			});
		}
		check("session_vars", () -> {
			exec(c, "SET SESSION sql_mode = 'ANSI_QUOTES,NO_ENGINE_SUBSTITUTION'");
			exec(c, "SET SESSION time_zone = '+05:30'");
			for (int i = 0; i < 3; i++) {
				one(c, "SELECT 1");
			}
			String m = oneStr(c, "SELECT @@SESSION.sql_mode"), z = oneStr(c, "SELECT @@SESSION.time_zone");
			exec(c, "SET SESSION sql_mode = DEFAULT");
			exec(c, "SET SESSION time_zone = DEFAULT");
			return m.equals("ANSI_QUOTES,NO_ENGINE_SUBSTITUTION") && z.equals("+05:30") ? null
			       : "read back " + m + " " + z;
		});
		check("use_db", () -> {
			exec(c, "USE " + db2);
			String x = oneStr(c, "SELECT DATABASE()");
			c.setCatalog(db); // COM_INIT_DB
			String y = oneStr(c, "SELECT DATABASE()");
			return x.equals(db2) && y.equals(db) ? null : "DATABASE() " + x + " then " + y;
		});
		// LAST_INSERT_ID on a connection of its own, not pinned by the checks above; between
		// the insert and the reads another connection inserts (id 1001) and leaves.
		Connection l = connect();
		check("insert_id_api", () -> {
			try (PreparedStatement p = l.prepareStatement("INSERT INTO lid (v) VALUES (?)",
			                                              Statement.RETURN_GENERATED_KEYS)) {
				p.setInt(1, 1);
				p.executeUpdate();
				try (Connection o = connect()) {
					exec(o, "INSERT INTO lid (v) VALUES (2)");
				}
				try (ResultSet r = p.getGeneratedKeys()) {
					long id = r.next() ? r.getLong(1) : -1;
					return id == 1000 ? null : "generated key " + id + ", want 1000";
				}
			}
		});
		check("last_insert_id_select", () -> {
			try (Statement s = l.createStatement(); ResultSet r = s.executeQuery("SELECT LAST_INSERT_ID()")) {
				r.next();
				String v = r.getString(1), name = r.getMetaData().getColumnLabel(1);
				return v.equals("1000") && name.equals("LAST_INSERT_ID()") ? null : v + " named " + name;
			}
		});
		check("last_insert_id_child", () -> {
			exec(l, "INSERT INTO child (pid) VALUES (LAST_INSERT_ID())");
			String v = oneStr(c, "SELECT pid FROM child ORDER BY id DESC LIMIT 1");
			return v.equals("1000") ? null : "child.pid " + v + ", want 1000";
		});
		l.close();
		check("temp_table", () -> {
			exec(c, "CREATE TEMPORARY TABLE tmp1 (v INT)");
			exec(c, "INSERT INTO tmp1 VALUES (1), (2)");
			one(c, "SELECT 1");
			exec(c, "INSERT INTO tmp1 VALUES (3)");
			String s = oneStr(c, "SELECT SUM(v) FROM tmp1");
			exec(c, "DROP TEMPORARY TABLE tmp1");
			return s.equals("6") ? null : "sum " + s + ", want 6";
		});
		check("stream_100k", () -> {
			try (Statement s = c.createStatement()) {
				s.setFetchSize(1000);
				try (ResultSet r = s.executeQuery("SELECT seq FROM seq_1_to_100000")) {
					long n = 0, sum = 0;
					while (r.next()) {
						n++;
						sum += r.getLong(1);
					}
					return n == 100000 && sum == 5000050000L ? null : n + " rows, sum " + sum;
				}
			}
		});
		check("multi_statements", () -> {
			exec(c, "CREATE TEMPORARY TABLE ms (v INT)");
			exec(c, "INSERT INTO ms VALUES (1)");
			List<String> sets = new ArrayList<>();
			try (Statement s = c.createStatement()) {
				boolean rs = s.execute("SELECT 1; UPDATE ms SET v = v + 1; SELECT 2; SELECT 'x', 2");
				while (true) {
					if (rs) {
						try (ResultSet r = s.getResultSet()) {
							while (r.next()) {
								StringBuilder b = new StringBuilder();
								for (int i = 1; i <= r.getMetaData().getColumnCount(); i++) {
									b.append(i > 1 ? "," : "").append(r.getString(i));
								}
								sets.add(b.toString());
							}
						}
					} else {
						int u = s.getUpdateCount();
						if (u == -1) {
							break;
						}
						sets.add("updated " + u);
					}
					rs = s.getMoreResults();
				}
			}
			exec(c, "DROP TEMPORARY TABLE ms");
			String g = String.join("|", sets);
			return g.equals("1|updated 1|2|x,2") ? null : "got " + g;
		});
		check("batch", () -> {
			try (PreparedStatement p = c.prepareStatement("INSERT INTO bat (v) VALUES (?)")) {
				for (int i = 0; i < 200; i++) {
					p.setInt(1, i);
					p.addBatch();
				}
				int[] counts = p.executeBatch();
				String n = oneStr(c, "SELECT COUNT(*) FROM bat");
				return counts.length == 200 && n.equals("200") ? null
				       : counts.length + " counts, rows " + n;
			}
		});
		check("reset", () -> {
			if (!c.isValid(5)) {
				return "isValid false";
			}
			exec(c, "SET @gone = 1");
			c.unwrap(org.mariadb.jdbc.MariaDbConnection.class).reset();
			String g = oneStr(c, "SELECT @gone");
			return g.equals("null") ? null : "after reset @gone=" + g;
		});
		check("abandon_result", () -> {
			long v = 0;
			try (Statement s = c.createStatement()) {
				s.setFetchSize(100);
				ResultSet r = s.executeQuery("SELECT seq FROM seq_1_to_100000");
				for (int i = 0; i < 10 && r.next(); i++) {
					v = r.getLong(1);
				}
				r.close();
			}
			String x = oneStr(c, "SELECT 42");
			return v == 10 && x.equals("42") ? null : v + " then " + x;
		});
		check("kill_query", () -> {
			try (Connection k = connect()) {
				String id = oneStr(k, "SELECT CONNECTION_ID()");
				final String[] how = {"still running"};
				long t0 = System.nanoTime();
				Thread th = new Thread(() -> {
					try {
						how[0] = "returned " + oneStr(k, "SELECT SLEEP(10)");
					} catch (SQLException e) {
						how[0] = "error " + e.getErrorCode();
					}
				});
				th.setDaemon(true);
				th.start();
				Thread.sleep(500);
				try (Connection o = connect()) {
					exec(o, "KILL QUERY " + id);
				}
				th.join(15000);
				long ms = (System.nanoTime() - t0) / 1000000;
				if (ms > 5000) {
					return "SLEEP(10) not interrupted (" + ms + " ms, " + how[0] + ")";
				}
				return oneStr(k, "SELECT 1").equals("1") ? null : "connection unusable after";
			}
		});
		check("parallel_16x50", () -> {
			AtomicInteger done = new AtomicInteger();
			List<Connection> open = new ArrayList<>();
			final String[] err = {null};
			List<Thread> ths = new ArrayList<>();
			for (int t = 0; t < 16; t++) {
				final int tt = t;
				// Like an application's pool, every connection stays open until all are done.
				Thread th = new Thread(() -> {
					try {
						Connection k = connect();
						synchronized (open) {
							open.add(k);
						}
						Statement s = k.createStatement();
						for (int i = 0; i < 50; i++) {
							s.execute("BEGIN");
							s.execute("SET @x = " + (tt * 1000 + i));
							s.execute("INSERT INTO par (v) VALUES (@x)");
							s.execute("COMMIT");
							done.incrementAndGet();
						}
					} catch (SQLException e) {
						err[0] = "SQLException " + e.getErrorCode() + ": " + e.getMessage();
					}
				});
				th.setDaemon(true);
				th.start();
				ths.add(th);
			}
			// A hang (waiting for connections that never free): no transaction ends for 5 s.
			long start = System.nanoTime(), last = start;
			int seen = 0;
			while (done.get() < 800 && err[0] == null) {
				Thread.sleep(50);
				long now = System.nanoTime();
				if (done.get() != seen) {
					seen = done.get();
					last = now;
				}
				if (now - last > TimeUnit.SECONDS.toNanos(5) || now - start > TimeUnit.SECONDS.toNanos(60)) {
					return done.get() + " of 800 transactions done, none in the last "
					    + TimeUnit.NANOSECONDS.toSeconds(now - last) + " s";
				}
			}
			if (err[0] != null) {
				return err[0];
			}
			for (Connection k : open) {
				k.close();
			}
			String n = oneStr(c, "SELECT COUNT(*) FROM par");
			return n.equals("800") ? null : n + " rows, want 800";
		});
		System.out.flush();
		Runtime.getRuntime().halt(0);
	}
}
