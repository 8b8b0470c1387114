<?php
// phpdrv.php: the drivers.t program for PHP's mysqlnd (mysqli, and PDO for the insert id
// and prepared types): HOST PORT USER PASSWORD DB DB2. One line per check, "ok NAME" or
// "not ok NAME: REASON". mysqli prepared statements are server-side (BIGINT UNSIGNED and
// DECIMAL are bound as strings: PHP has no such types); mysqli has no batch call (the
// batch is 200 executes of one statement); reset is ping() and change_user(); the 16
// connections and the KILL run with MYSQLI_ASYNC and mysqli_poll.
mysqli_report(MYSQLI_REPORT_OFF);
error_reporting(E_ALL);
set_error_handler(function ($no, $msg) {
	throw new ErrorException($msg, 0, $no);
});
[$_, $host, $port, $user, $pass, $db, $db2] = $argv;
$port = (int)$port;

function check($name, $fn)
{
	try {
		$why = $fn();
	} catch (Throwable $e) {
		$why = get_class($e) . ": " . $e->getMessage();
	}
	if ($why === null) {
		echo "ok $name\n";
	} else {
		echo "not ok $name: ", substr(str_replace("\n", " ", $why), 0, 400), "\n";
	}
}
function connect()
{
	global $host, $port, $user, $pass, $db;
	$m = mysqli_init();
	$m->options(MYSQLI_OPT_CONNECT_TIMEOUT, 10);
	$m->options(MYSQLI_OPT_READ_TIMEOUT, 60);
	if (!$m->real_connect($host, $user, $pass, $db, $port, null, 0)) {
		throw new Exception("connect: " . mysqli_connect_errno());
	}
	$m->set_charset("utf8mb4");
	return $m;
}
function q($m, $sql)
{
	$r = $m->query($sql);
	if ($r === false) {
		throw new Exception("$sql: {$m->errno} {$m->error}");
	}
	return $r;
}
function one($m, $sql)
{
	$r = q($m, $sql);
	$row = $r->fetch_row();
	$r->free();
	return $row[0];
}
function show($v)
{
	if ($v === null) {
		return "NULL";
	}
	if (is_float($v)) {
		return var_export($v, true);
	}
	return (string)$v;
}

$c = connect();
$blob = implode("", array_map("chr", range(0, 255)));
// name, SQL type, bind type, bound value, expected show()
$types = [
	["tinyint", "TINYINT", "i", -128, "-128"],
	["smallint", "SMALLINT", "i", -32768, "-32768"],
	["int", "INT", "i", -2147483648, "-2147483648"],
	["bigint_max", "BIGINT", "i", PHP_INT_MAX, "9223372036854775807"],
	["bigint_unsigned_max", "BIGINT UNSIGNED", "s", "18446744073709551615", "18446744073709551615"],
	["decimal", "DECIMAL(20,6)", "s", "12345678901234.123456", "12345678901234.123456"],
	["float", "FLOAT", "d", 1.5, "1.5"],
	["double", "DOUBLE", "d", 3.141592653589793, "3.141592653589793"],
	["date", "DATE", "s", "2024-02-29", "2024-02-29"],
	["datetime6", "DATETIME(6)", "s", "2024-02-29 13:14:15.123456", "2024-02-29 13:14:15.123456"],
	["time", "TIME", "s", "13:14:15", "13:14:15"],
	["timestamp", "TIMESTAMP NULL", "s", "2024-02-29 13:14:15", "2024-02-29 13:14:15"],
	["varchar_emoji", "VARCHAR(50) CHARACTER SET utf8mb4", "s", "h\u{e9}llo \u{1F42C} w\u{f6}rld",
	 "h\u{e9}llo \u{1F42C} w\u{f6}rld"],
	["char", "CHAR(10) CHARACTER SET utf8mb4", "s", "abc", "abc"],
	["blob256", "BLOB", "s", $blob, $blob],
	["null", "INT NULL", "i", null, "NULL"],
	["json", "JSON", "s", '{"a": [1, 2, "é"]}', '{"a": [1, 2, "é"]}'],
];
foreach (["types", "big", "tx", "lid", "child", "par", "bat"] as $t) {
	q($c, "DROP TABLE IF EXISTS $t");
}
q($c, "CREATE TABLE types (id INT PRIMARY KEY, " .
      implode(", ", array_map(fn($t) => "c_$t[0] $t[1]", $types)) . ")");
q($c, "CREATE TABLE big (id INT PRIMARY KEY, b LONGBLOB)");
q($c, "CREATE TABLE tx (id INT PRIMARY KEY)");
q($c, "CREATE TABLE lid (id INT AUTO_INCREMENT PRIMARY KEY, v INT) AUTO_INCREMENT=1000");
q($c, "CREATE TABLE child (id INT AUTO_INCREMENT PRIMARY KEY, pid BIGINT)");
q($c, "CREATE TABLE par (id INT AUTO_INCREMENT PRIMARY KEY, v INT)");
q($c, "CREATE TABLE bat (id INT AUTO_INCREMENT PRIMARY KEY, v INT)");

$row = null;
$typeErr = null;
try {
	$st = $c->prepare("INSERT INTO types VALUES (1, " . implode(", ", array_fill(0, count($types), "?")) . ")");
	$vals = array_map(fn($t) => $t[3], $types);
	$st->bind_param(implode("", array_map(fn($t) => $t[2], $types)), ...$vals);
	if (!$st->execute()) {
		throw new Exception("insert: {$st->errno} {$st->error}");
	}
	$st->close();
	$st = $c->prepare("SELECT " . implode(", ", array_map(fn($t) => "c_$t[0]", $types)) . " FROM types WHERE id = ?");
	$id = 1;
	$st->bind_param("i", $id);
	$st->execute();
	$row = $st->get_result()->fetch_row();
	$st->close();
} catch (Throwable $e) {
	$typeErr = $e->getMessage();
}
foreach ($types as $i => $t) {
	check("type_$t[0]", function () use ($typeErr, $row, $i, $t) {
		if ($typeErr !== null) {
			return $typeErr;
		}
		$g = show($row[$i]);
		return $g === $t[4] ? null : "got " . var_export($row[$i], true) . ", want $t[4]";
	});
}

check("blob_20mb", function () use ($c) {
	$big = str_repeat(implode("", array_map("chr", range(255, 0, -1))), 20 * 1024 * 4);
	$st = $c->prepare("INSERT INTO big VALUES (1, ?)");
	$null = null;
	$st->bind_param("b", $null);
	foreach (str_split($big, 1024 * 1024) as $part) {
		$st->send_long_data(0, $part);
	}
	if (!$st->execute()) {
		return "insert: {$st->errno} {$st->error}";
	}
	$st->close();
	$back = one($c, "SELECT b FROM big WHERE id = 1");
	return $back === $big ? null : "read back " . strlen($back) . " bytes, differ";
});
foreach ([true, false] as $commit) {
	check($commit ? "txn_commit" : "txn_rollback", function () use ($c, $commit) {
		$k = $commit ? 1 : 2;
		$c->begin_transaction();
		q($c, "INSERT INTO tx VALUES ($k)");
		$commit ? $c->commit() : $c->rollback();
		$o = connect();
		$n = one($o, "SELECT COUNT(*) FROM tx WHERE id = $k");
		$o->close();
		return $n == ($commit ? 1 : 0) ? null : "another connection sees $n rows";
	});
}
foreach ([1062 => "INSERT INTO tx VALUES (1)", 1064 => "SELEC 1"] as $code => $sql) {
	check("err_$code", function () use ($c, $code, $sql) {
		$r = $c->query($sql);
		if ($r !== false || $c->errno != $code) {
			return "error {$c->errno}, want $code";
		}
		return one($c, "SELECT 1") == 1 ? null : "connection unusable after";
	});
}
check("session_vars", function () use ($c) {
	q($c, "SET SESSION sql_mode = 'ANSI_QUOTES,NO_ENGINE_SUBSTITUTION'");
	q($c, "SET SESSION time_zone = '+05:30'");
	for ($i = 0; $i < 3; $i++) {
		one($c, "SELECT 1");
	}
	$r = q($c, "SELECT @@SESSION.sql_mode, @@SESSION.time_zone")->fetch_row();
	q($c, "SET SESSION sql_mode = DEFAULT");
	q($c, "SET SESSION time_zone = DEFAULT");
	return $r == ["ANSI_QUOTES,NO_ENGINE_SUBSTITUTION", "+05:30"] ? null : "read back " . implode(" ", $r);
});
check("use_db", function () use ($c, $db, $db2) {
	q($c, "USE $db2");
	$a = one($c, "SELECT DATABASE()");
	$c->select_db($db); // COM_INIT_DB
	$b = one($c, "SELECT DATABASE()");
	return $a === $db2 && $b === $db ? null : "DATABASE() $a then $b";
});
// LAST_INSERT_ID on a connection of its own, not pinned by the checks above; between the
// insert and the reads another connection inserts (id 1001) and leaves.
$l = connect();
check("insert_id_api", function () use ($l) {
	$st = $l->prepare("INSERT INTO lid (v) VALUES (?)");
	$v = 1;
	$st->bind_param("i", $v);
	$st->execute();
	$a = $st->insert_id;
	$st->close();
	$o = connect();
	q($o, "INSERT INTO lid (v) VALUES (2)");
	$o->close();
	return $a == 1000 && $l->insert_id == 1000 ? null : "insert_id $a / {$l->insert_id}, want 1000";
});
check("last_insert_id_select", function () use ($l) {
	$r = q($l, "SELECT LAST_INSERT_ID()");
	$name = $r->fetch_field()->name;
	$v = $r->fetch_row()[0];
	return $v == 1000 && $name === "LAST_INSERT_ID()" ? null : "$v named $name";
});
check("last_insert_id_child", function () use ($l) {
	q($l, "INSERT INTO child (pid) VALUES (LAST_INSERT_ID())");
	$v = one($l, "SELECT pid FROM child ORDER BY id DESC LIMIT 1");
	return $v == 1000 ? null : "child.pid $v, want 1000";
});
$l->close();
check("thread_id_api", function () use ($c) {
	$id = one($c, "SELECT CONNECTION_ID()");
	return $id == $c->thread_id ? null : "thread_id {$c->thread_id}, CONNECTION_ID() $id";
});
check("temp_table", function () use ($c) {
	q($c, "CREATE TEMPORARY TABLE tmp1 (v INT)");
	q($c, "INSERT INTO tmp1 VALUES (1), (2)");
	one($c, "SELECT 1");
	q($c, "INSERT INTO tmp1 VALUES (3)");
	$s = one($c, "SELECT SUM(v) FROM tmp1");
	q($c, "DROP TEMPORARY TABLE tmp1");
	return $s == 6 ? null : "sum $s, want 6";
});
check("stream_100k", function () use ($c) {
	$r = $c->query("SELECT seq FROM seq_1_to_100000", MYSQLI_USE_RESULT);
	$n = $s = 0;
	while ($row = $r->fetch_row()) {
		$n++;
		$s += $row[0];
	}
	$r->free();
	return $n == 100000 && $s == 5000050000 ? null : "$n rows, sum $s";
});
check("multi_statements", function () use ($c) {
	q($c, "CREATE TEMPORARY TABLE ms (v INT)");
	q($c, "INSERT INTO ms VALUES (1)");
	$sets = [];
	if (!$c->multi_query("SELECT 1; UPDATE ms SET v = v + 1; SELECT 2; SELECT 'x', 2")) {
		return "multi_query: {$c->errno} {$c->error}";
	}
	do {
		if ($r = $c->store_result()) {
			foreach ($r->fetch_all() as $row) {
				$sets[] = implode(",", $row);
			}
			$r->free();
		} else {
			$sets[] = "updated {$c->affected_rows}";
		}
	} while ($c->more_results() && $c->next_result());
	if ($c->errno) {
		return "error {$c->errno}";
	}
	q($c, "DROP TEMPORARY TABLE ms");
	$g = implode("|", $sets);
	return $g === "1|updated 1|2|x,2" ? null : "got $g";
});
check("batch", function () use ($c) {
	$st = $c->prepare("INSERT INTO bat (v) VALUES (?)");
	$v = 0;
	$st->bind_param("i", $v);
	$n = 0;
	for ($v = 0; $v < 200; $v++) {
		$st->execute();
		$n += $st->affected_rows;
	}
	$st->close();
	$cnt = one($c, "SELECT COUNT(*) FROM bat");
	return $n == 200 && $cnt == 200 ? null : "affected $n, rows $cnt";
});
check("reset", function () use ($c, $user, $pass, $db) {
	if (!$c->ping()) {
		return "ping failed";
	}
	q($c, "SET @gone = 1");
	if (!$c->change_user($user, $pass, $db)) {
		return "change_user: {$c->errno} {$c->error}";
	}
	$g = one($c, "SELECT @gone");
	$d = one($c, "SELECT DATABASE()");
	return $g === null && $d === $db ? null : "after change_user @gone=$g db=$d";
});
check("abandon_result", function () use ($c) {
	$r = $c->query("SELECT seq FROM seq_1_to_100000", MYSQLI_USE_RESULT);
	for ($i = 0; $i < 10; $i++) {
		$v = $r->fetch_row()[0];
	}
	$r->free();
	$x = one($c, "SELECT 42");
	return $v == 10 && $x == 42 ? null : "$v then $x";
});
function wait_async($k, $secs)
{
	$end = microtime(true) + $secs;
	while (microtime(true) < $end) {
		$rd = $er = $rj = [$k];
		if (mysqli_poll($rd, $er, $rj, 0, 100000) > 0) {
			return true;
		}
	}
	return false;
}
check("kill_query", function () {
	$k = connect();
	$id = one($k, "SELECT CONNECTION_ID()");
	$t0 = microtime(true);
	$k->query("SELECT SLEEP(10)", MYSQLI_ASYNC);
	usleep(500000);
	$o = connect();
	q($o, "KILL QUERY $id");
	$o->close();
	if (!wait_async($k, 15)) {
		return "SLEEP(10) still running";
	}
	$r = $k->reap_async_query();
	$how = $r === false ? "error {$k->errno}" : "returned";
	$secs = microtime(true) - $t0;
	if ($secs > 5) {
		return sprintf("SLEEP(10) not interrupted (%.1f s, %s)", $secs, $how);
	}
	return one($k, "SELECT 1") == 1 ? null : "connection unusable after";
});
check("pdo", function () use ($host, $port, $user, $pass, $db) {
	$p = new PDO("mysql:host=$host;port=$port;dbname=$db;charset=utf8mb4", $user, $pass,
	             [PDO::ATTR_ERRMODE => PDO::ERRMODE_EXCEPTION, PDO::ATTR_EMULATE_PREPARES => false]);
	$p->beginTransaction();
	$st = $p->prepare("INSERT INTO lid (v) VALUES (?), (?)");
	$st->execute([2, 3]);
	$id = $p->lastInsertId();
	$n = $st->rowCount();
	$p->commit();
	$st = $p->prepare("SELECT c_bigint_max, c_decimal, c_datetime6, c_varchar_emoji FROM types WHERE id = ?");
	$st->execute([1]);
	$r = implode("|", $st->fetch(PDO::FETCH_NUM));
	$want = "9223372036854775807|12345678901234.123456|2024-02-29 13:14:15.123456|h\u{e9}llo \u{1F42C} w\u{f6}rld";
	return $id == 1002 && $n == 2 && $r === $want ? null : "lastInsertId $id rowCount $n row $r";
});
check("parallel_16x50", function () {
	$ks = [];
	for ($t = 0; $t < 16; $t++) {
		$ks[$t] = connect();
	}
	$step = array_fill(0, 16, 0); // 4 statements x 50 transactions each
	$sql = function ($t, $s) {
		return ["BEGIN", "SET @x = " . ($t * 1000 + intdiv($s, 4)), "INSERT INTO par (v) VALUES (@x)",
		        "COMMIT"][$s % 4];
	};
	foreach ($ks as $t => $k) {
		$k->query($sql($t, 0), MYSQLI_ASYNC);
	}
	// A hang (waiting for connections that never free): no transaction ends for 5 s.
	$start = $last = microtime(true);
	$busy = $ks;
	while ($busy && microtime(true) - $last < 5 && microtime(true) - $start < 60) {
		$rd = $er = $rj = array_values($busy);
		if (mysqli_poll($rd, $er, $rj, 0, 100000) < 1) {
			continue;
		}
		foreach ($rd as $k) {
			$t = array_search($k, $ks, true);
			if ($k->reap_async_query() === false) {
				return "error {$k->errno} {$k->error}";
			}
			if (++$step[$t] % 4 == 0) {
				$last = microtime(true);
			}
			if ($step[$t] == 200) {
				unset($busy[$t]);
			} else {
				$k->query($sql($t, $step[$t]), MYSQLI_ASYNC);
			}
		}
	}
	if ($busy) {
		return sprintf("%d of 800 transactions done, none in the last %.0f s",
		               array_sum(array_map(fn($x) => intdiv($x, 4), $step)), microtime(true) - $last);
	}
	$n = one($ks[0], "SELECT COUNT(*) FROM par");
	return $n == 800 ? null : "$n rows, want 800";
});
