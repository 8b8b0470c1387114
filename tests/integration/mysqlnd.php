<?php
// mysqlnd.php PORT USER PASSWORD DB: the checks of mysqlnd.t, through PHP's mysqlnd
// (mysqli and PDO), printed one per line as "name: value" so that the .t file can
// compare a run through sluice with a run straight to MariaDB.
mysqli_report(MYSQLI_REPORT_OFF);
error_reporting(E_ALL);
set_error_handler(function ($no, $msg) {
	echo "php warning: $msg\n";
	return true;
});
[$_, $port, $user, $pass, $db] = $argv;
$m = new mysqli("127.0.0.1", $user, $pass, $db, (int)$port);
if ($m->connect_errno) {
	echo "connect: {$m->connect_errno}\n";
	exit(1);
}
function q($m, $name, $sql)
{
	$r = $m->query($sql);
	echo "$name: ", $r === false ? "ERR {$m->errno}" : "ok", " affected={$m->affected_rows}",
	     " insert_id={$m->insert_id}\n";
	return $r;
}
q($m, "drop", "DROP TABLE IF EXISTS nd");
q($m, "create", "CREATE TABLE nd (id INT AUTO_INCREMENT PRIMARY KEY, v INT) AUTO_INCREMENT=1001");
q($m, "begin", "BEGIN");
q($m, "insert two in a transaction", "INSERT INTO nd (v) VALUES (1), (2)");
q($m, "update in a transaction", "UPDATE nd SET v = v + 10");
q($m, "commit", "COMMIT");
q($m, "temporary table", "CREATE TEMPORARY TABLE ndt (v INT)");
q($m, "insert into it", "INSERT INTO ndt VALUES (7)");
$r = q($m, "read it", "SELECT v FROM ndt");
echo "temporary row: ", $r ? $r->fetch_row()[0] : "-", "\n";
q($m, "rollback test begin", "START TRANSACTION");
q($m, "insert to roll back", "INSERT INTO nd (v) VALUES (99)");
q($m, "rollback", "ROLLBACK");
$r = q($m, "count", "SELECT COUNT(*) FROM nd");
echo "rows after rollback: ", $r ? $r->fetch_row()[0] : "-", "\n";
// Symptom 2: a multi-row insert's id (the first row's), a prepared update's count.
q($m, "insert three", "INSERT INTO nd (v) VALUES (20), (21), (22)");
$st = $m->prepare("UPDATE nd SET v = v + 1 WHERE v = ?");
$want = 21;
if ($st && $st->bind_param("i", $want) && $st->execute())
	echo "mysqli prepared update of one row: affected={$st->affected_rows}\n";
else
	echo "mysqli prepared update: ERR {$m->errno}\n";
$want = 22;
if ($st && $st->execute())
	echo "the same again, another row: affected={$st->affected_rows}\n";
$st = $m->prepare("INSERT INTO nd (v) VALUES (?), (?)");
$a = 30;
$b = 31;
if ($st && $st->bind_param("ii", $a, $b) && $st->execute())
	echo "mysqli prepared insert of two: affected={$st->affected_rows}",
	     " insert_id={$st->insert_id} connection insert_id={$m->insert_id}\n";
else
	echo "mysqli prepared insert: ERR {$m->errno}\n";
// Symptom 7: every result of a multi-statement query, in order.
$sql = "SELECT 1; UPDATE nd SET v = v WHERE v = 20; SELECT 2; SELECT 'x', 2";
if ($m->multi_query($sql)) {
	$i = 0;
	do {
		$r = $m->store_result();
		$i++;
		if ($r) {
			echo "multi result $i: ", implode(",", array_map(
			    fn($row) => implode("|", $row), $r->fetch_all())), "\n";
			$r->free();
		} else {
			echo "multi result $i: errno={$m->errno} affected={$m->affected_rows}\n";
		}
	} while ($i < 10 && $m->more_results() && $m->next_result());
	echo "multi results: $i, errno after: {$m->errno}\n";
} else {
	echo "multi_query: ERR {$m->errno}\n";
}
$r = q($m, "a query after the multi-statement", "SELECT COUNT(*) FROM nd");
echo "rows: ", $r ? $r->fetch_row()[0] : "-", "\n";
$m->close();

$pdo = new PDO("mysql:host=127.0.0.1;port=$port;dbname=$db", $user, $pass,
               [PDO::ATTR_ERRMODE => PDO::ERRMODE_SILENT]);
$pdo->beginTransaction();
$n = $pdo->exec("INSERT INTO nd (v) VALUES (3), (4), (5)");
echo "pdo insert three: affected=$n lastInsertId=", $pdo->lastInsertId(), "\n";
echo "pdo commit: ", $pdo->commit() ? "ok" : "failed", "\n";
$st = $pdo->query("SELECT COUNT(*) FROM nd");
echo "pdo rows: ", $st ? $st->fetchColumn() : "-", "\n";
$pdo->setAttribute(PDO::ATTR_EMULATE_PREPARES, false);
$st = $pdo->prepare("UPDATE nd SET v = v + 100 WHERE v = ?");
echo "pdo prepared update of one row: ", $st && $st->execute([3]) ? "rowCount=" . $st->rowCount()
                                                                  : "failed", "\n";
$st = $pdo->prepare("INSERT INTO nd (v) VALUES (?), (?), (?)");
echo "pdo prepared insert of three: ", $st && $st->execute([40, 41, 42])
    ? "rowCount=" . $st->rowCount() . " lastInsertId=" . $pdo->lastInsertId() : "failed", "\n";
echo "done\n";
