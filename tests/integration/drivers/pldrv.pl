#!/usr/bin/perl
# pldrv.pl: the drivers.t program for Perl's DBD::mysql (Debian libdbd-mysql-perl): HOST PORT
# USER PASSWORD DB DB2. One line per check, "ok NAME" or "not ok NAME: REASON". With
# mysql_server_prepare the statements are server-side prepared (DBD::mysql binds every
# parameter as a string); the multi-statement, KILL and 16-connection checks use
# connections without it, and streaming statements too (asynchronous queries,
# multi-statements and mysql_use_result need the text protocol); the batch is execute_array(); reset is ping().
use strict;
use warnings;
use DBI;
use Time::HiRes qw(time sleep);
use POSIX ();

$| = 1;
my ($host, $port, $user, $pass, $db, $db2) = @ARGV;

sub connect_db {
	my (%opt) = @_;
	my $d = DBI->connect("DBI:mysql:database=$db;host=$host;port=$port;mysql_connect_timeout=10;"
	                     . "mysql_read_timeout=60;mysql_write_timeout=60", $user, $pass,
	                     {RaiseError => 1, PrintError => 0, AutoCommit => 1,
	                      mysql_enable_utf8mb4 => 1, mysql_server_prepare => 1, %opt});
	return $d;
}

sub check {
	my ($name, $fn) = @_;
	my $why = eval { $fn->() };
	if ($@) {
		$why = "died: $@";
	}
	if (!defined $why) {
		print "ok $name\n";
	} else {
		$why =~ s/\n/ /g;
		print "not ok $name: ", substr($why, 0, 400), "\n";
	}
}

my $c = connect_db();

sub one {
	my ($sql, $k) = @_;
	my @r = ($k || $c)->selectrow_array($sql);
	return $r[0];
}

sub show {
	my ($v) = @_;
	return "NULL" unless defined $v;
	return "$v";
}

my $blob = join("", map { chr } 0 .. 255);
my @types = (
	["tinyint", "TINYINT", -128, "-128"],
	["smallint", "SMALLINT", -32768, "-32768"],
	["int", "INT", -2147483648, "-2147483648"],
	["bigint_max", "BIGINT", "9223372036854775807", "9223372036854775807"],
	["bigint_unsigned_max", "BIGINT UNSIGNED", "18446744073709551615", "18446744073709551615"],
	["decimal", "DECIMAL(20,6)", "12345678901234.123456", "12345678901234.123456"],
	["float", "FLOAT", 1.5, "1.5"],
	["double", "DOUBLE", "3.141592653589793", "3.14159265358979"],  # DBD::mysql prints %.15g
	["date", "DATE", "2024-02-29", "2024-02-29"],
	["datetime6", "DATETIME(6)", "2024-02-29 13:14:15.123456", "2024-02-29 13:14:15.123456"],
	["time", "TIME", "13:14:15", "13:14:15"],
	["timestamp", "TIMESTAMP NULL", "2024-02-29 13:14:15", "2024-02-29 13:14:15"],
	["varchar_emoji", "VARCHAR(50) CHARACTER SET utf8mb4", "h\x{e9}llo \x{1F42C} w\x{f6}rld",
	 "h\x{e9}llo \x{1F42C} w\x{f6}rld"],
	["char", "CHAR(10) CHARACTER SET utf8mb4", "abc", "abc"],
	["blob256", "BLOB", $blob, $blob],
	["null", "INT NULL", undef, "NULL"],
	["json", "JSON", "{\"a\": [1, 2, \"\x{e9}\"]}", "{\"a\": [1, 2, \"\x{e9}\"]}"],
);
$c->do("DROP TABLE IF EXISTS $_") for qw(types big tx lid child par bat);
$c->do("CREATE TABLE types (id INT PRIMARY KEY, " . join(", ", map { "c_$_->[0] $_->[1]" } @types) . ")");
$c->do("CREATE TABLE big (id INT PRIMARY KEY, b LONGBLOB)");
$c->do("CREATE TABLE tx (id INT PRIMARY KEY)");
$c->do("CREATE TABLE lid (id INT AUTO_INCREMENT PRIMARY KEY, v INT) AUTO_INCREMENT=1000");
$c->do("CREATE TABLE child (id INT AUTO_INCREMENT PRIMARY KEY, pid BIGINT)");
$c->do("CREATE TABLE par (id INT AUTO_INCREMENT PRIMARY KEY, v INT)");
$c->do("CREATE TABLE bat (id INT AUTO_INCREMENT PRIMARY KEY, v INT)");

my ($row, $type_err);
eval {
	my $st = $c->prepare("INSERT INTO types VALUES (1, " . join(", ", ("?") x @types) . ")");
	for my $i (0 .. $#types) {
		my $v = $types[$i][2];
		utf8::upgrade($v) if defined $v && $types[$i][1] ne "BLOB";  # characters, not bytes
		$st->bind_param($i + 1, $v, $types[$i][1] eq "BLOB" ? DBI::SQL_BLOB : undef);
	}
	$st->execute();
	$st = $c->prepare("SELECT " . join(", ", map { "c_$_->[0]" } @types) . " FROM types WHERE id = ?");
	$st->execute(1);
	$row = $st->fetchrow_arrayref;
	$st->finish;
	1;
} or $type_err = "died: $@";
for my $i (0 .. $#types) {
	check("type_$types[$i][0]", sub {
		return $type_err if $type_err;
		my $g = show($row->[$i]);
		return $g eq $types[$i][3] ? undef : "got '$g', want '$types[$i][3]'";
	});
}

check("blob_20mb", sub {
	my $big = join("", map { chr } reverse 0 .. 255) x (20 * 1024 * 4);
	my $st = $c->prepare("INSERT INTO big VALUES (1, ?)");
	$st->bind_param(1, $big, DBI::SQL_BLOB);
	$st->execute;
	my $back = one("SELECT b FROM big WHERE id = 1");
	return $back eq $big ? undef : "read back " . length($back) . " bytes, differ";
});
for my $commit (1, 0) {
	check($commit ? "txn_commit" : "txn_rollback", sub {
		my $k = $commit ? 1 : 2;
		$c->begin_work;
		$c->do("INSERT INTO tx VALUES (?)", undef, $k);
		$commit ? $c->commit : $c->rollback;
		my $o = connect_db();
		my $n = one("SELECT COUNT(*) FROM tx WHERE id = $k", $o);
		$o->disconnect;
		return $n == $commit ? undef : "another connection sees $n rows";
	});
}
for my $e ([1062, "INSERT INTO tx VALUES (1)"], [1064, "SELEC 1"]) {
	check("err_$e->[0]", sub {
		eval { $c->do($e->[1]) };
		my $got = $c->err // 0;
		return "error $got, want $e->[0]" if $got != $e->[0];
		return one("SELECT 1") == 1 ? undef : "connection unusable after";
	});
}
check("session_vars", sub {
	$c->do("SET SESSION sql_mode = 'ANSI_QUOTES,NO_ENGINE_SUBSTITUTION'");
	$c->do("SET SESSION time_zone = '+05:30'");
	one("SELECT 1") for 1 .. 3;
	my ($m, $z) = $c->selectrow_array("SELECT \@\@SESSION.sql_mode, \@\@SESSION.time_zone");
	$c->do("SET SESSION sql_mode = DEFAULT");
	$c->do("SET SESSION time_zone = DEFAULT");
	return $m eq "ANSI_QUOTES,NO_ENGINE_SUBSTITUTION" && $z eq "+05:30" ? undef : "read back $m $z";
});
check("use_db", sub {
	$c->do("USE $db2");
	my $a = one("SELECT DATABASE()");
	$c->do("USE $db");
	my $b = one("SELECT DATABASE()");
	return $a eq $db2 && $b eq $db ? undef : "DATABASE() $a then $b";
});
# LAST_INSERT_ID on a connection of its own, not pinned by the checks above; between the
# insert and the reads another connection inserts (id 1001) and leaves.
my $l = connect_db();
check("insert_id_api", sub {
	my $st = $l->prepare("INSERT INTO lid (v) VALUES (?)");
	$st->execute(1);
	my $a = $st->{mysql_insertid};
	my $b = $l->last_insert_id(undef, undef, undef, undef);
	my $o = connect_db();
	$o->do("INSERT INTO lid (v) VALUES (2)");
	$o->disconnect;
	return $a == 1000 && $b == 1000 ? undef : "mysql_insertid $a, last_insert_id $b, want 1000";
});
check("last_insert_id_select", sub {
	my $st = $l->prepare("SELECT LAST_INSERT_ID()");
	$st->execute;
	my $name = $st->{NAME}[0];
	my ($v) = $st->fetchrow_array;
	$st->finish;
	return $v == 1000 && $name eq "LAST_INSERT_ID()" ? undef : "$v named $name";
});
check("last_insert_id_child", sub {
	$l->do("INSERT INTO child (pid) VALUES (LAST_INSERT_ID())");
	my $v = one("SELECT pid FROM child ORDER BY id DESC LIMIT 1");
	return $v == 1000 ? undef : "child.pid $v, want 1000";
});
$l->disconnect;
check("thread_id_api", sub {
	my $id = one("SELECT CONNECTION_ID()");
	return $id == $c->{mysql_thread_id} ? undef : "mysql_thread_id $c->{mysql_thread_id}, CONNECTION_ID() $id";
});
check("temp_table", sub {
	$c->do("CREATE TEMPORARY TABLE tmp1 (v INT)");
	$c->do("INSERT INTO tmp1 VALUES (?), (?)", undef, 1, 2);
	one("SELECT 1");
	$c->do("INSERT INTO tmp1 VALUES (3)");
	my $s = one("SELECT SUM(v) FROM tmp1");
	$c->do("DROP TEMPORARY TABLE tmp1");
	return $s == 6 ? undef : "sum $s, want 6";
});
check("stream_100k", sub {
	my $st = $c->prepare("SELECT seq FROM seq_1_to_100000", {mysql_use_result => 1, mysql_server_prepare => 0});
	$st->execute;
	my ($n, $s) = (0, 0);
	while (my $r = $st->fetchrow_arrayref) {
		$n++;
		$s += $r->[0];
	}
	return $n == 100000 && $s == 5000050000 ? undef : "$n rows, sum $s";
});
check("multi_statements", sub {
	my $m = connect_db(mysql_server_prepare => 0, mysql_multi_statements => 1);
	$m->do("CREATE TEMPORARY TABLE ms (v INT)");
	$m->do("INSERT INTO ms VALUES (1)");
	my $st = $m->prepare("SELECT 1; UPDATE ms SET v = v + 1; SELECT 2; SELECT 'x', 2");
	$st->execute;
	my @sets;
	do {
		if ($st->{NUM_OF_FIELDS}) {
			while (my $r = $st->fetchrow_arrayref) {
				push @sets, join(",", @$r);
			}
		} else {
			push @sets, "updated " . $st->rows;
		}
	} while ($st->more_results);
	$m->disconnect;
	my $g = join("|", @sets);
	return $g eq "1|updated 1|2|x,2" ? undef : "got $g";
});
check("batch", sub {
	my $st = $c->prepare("INSERT INTO bat (v) VALUES (?)");
	my @status;
	my $n = $st->execute_array({ArrayTupleStatus => \@status}, [0 .. 199]);
	my $cnt = one("SELECT COUNT(*) FROM bat");
	return $n == 200 && $cnt == 200 ? undef : "execute_array $n, rows $cnt";
});
check("reset", sub {
	return "ping failed" unless $c->ping;
	return one("SELECT 1") == 1 ? undef : "no SELECT 1 after ping";
});
check("abandon_result", sub {
	my $st = $c->prepare("SELECT seq FROM seq_1_to_100000", {mysql_use_result => 1, mysql_server_prepare => 0});
	$st->execute;
	my $v;
	$v = $st->fetchrow_arrayref->[0] for 1 .. 10;
	$st->finish;
	my $x = one("SELECT 42");
	return $v == 10 && $x == 42 ? undef : "$v then $x";
});

sub wait_async {
	my ($h, $secs) = @_;
	my $end = time + $secs;
	while (time < $end) {
		return 1 if $h->mysql_async_ready;
		sleep 0.01;
	}
	return 0;
}
check("kill_query", sub {
	my $k = connect_db(mysql_server_prepare => 0);
	my $id = one("SELECT CONNECTION_ID()", $k);
	my $t0 = time;
	my $st = $k->prepare("SELECT SLEEP(10)", {async => 1});
	$st->execute;
	sleep 0.5;
	my $o = connect_db();
	$o->do("KILL QUERY $id");
	$o->disconnect;
	return "SLEEP(10) still running" unless wait_async($st, 15);
	my $how = eval { $st->mysql_async_result; 1 } ? "returned" : "error " . ($k->err // 0);
	$st->finish;
	my $secs = time - $t0;
	return sprintf("SLEEP(10) not interrupted (%.1f s, %s)", $secs, $how) if $secs > 5;
	return one("SELECT 1", $k) == 1 ? undef : "connection unusable after";
});
check("parallel_16x50", sub {
	my @ks = map { connect_db(mysql_server_prepare => 0) } 1 .. 16;
	my @step = (0) x 16;
	my $sql = sub {
		my ($t, $s) = @_;
		return ("BEGIN", "SET \@x = " . ($t * 1000 + int($s / 4)), "INSERT INTO par (v) VALUES (\@x)",
		        "COMMIT")[$s % 4];
	};
	$ks[$_]->do($sql->($_, 0), {async => 1}) for 0 .. 15;
	my %busy = map { $_ => 1 } 0 .. 15;
	# A hang (waiting for connections that never free): no transaction ends for 5 s.
	my $start = time;
	my $last = $start;
	while (%busy && time - $last < 5 && time - $start < 60) {
		my $any = 0;
		for my $t (keys %busy) {
			next unless $ks[$t]->mysql_async_ready;
			$any = 1;
			$ks[$t]->mysql_async_result;
			$last = time if ++$step[$t] % 4 == 0;
			if ($step[$t] == 200) {
				delete $busy{$t};
			} else {
				$ks[$t]->do($sql->($t, $step[$t]), {async => 1});
			}
		}
		sleep 0.001 unless $any;
	}
	my $done = 0;
	$done += int($_ / 4) for @step;
	return sprintf("%d of 800 transactions done, none in the last %.0f s", $done, time - $last) if %busy;
	my $n = one("SELECT COUNT(*) FROM par");
	return $n == 800 ? undef : "$n rows, want 800";
});
POSIX::_exit(0);
