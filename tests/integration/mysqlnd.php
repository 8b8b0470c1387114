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
$m->close();

$pdo = new PDO("mysql:host=127.0.0.1;port=$port;dbname=$db", $user, $pass,
               [PDO::ATTR_ERRMODE => PDO::ERRMODE_SILENT]);
$pdo->beginTransaction();
$n = $pdo->exec("INSERT INTO nd (v) VALUES (3), (4), (5)");
echo "pdo insert three: affected=$n lastInsertId=", $pdo->lastInsertId(), "\n";
echo "pdo commit: ", $pdo->commit() ? "ok" : "failed", "\n";
$st = $pdo->query("SELECT COUNT(*) FROM nd");
echo "pdo rows: ", $st ? $st->fetchColumn() : "-", "\n";
echo "done\n";
