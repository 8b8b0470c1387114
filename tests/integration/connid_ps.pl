#!/usr/bin/perl
# connid_ps.pl - CONNECTION_ID() and KILL in server-side prepared statements, with
# DBD::mysql and mysql_server_prepare=1 (issue 12: DBD::mysql, Connector/J and PDO without
# emulation prepare every statement on the server; the prepared forms went to the backend
# as written: CONNECTION_ID() gave the backend's thread id, and KILL QUERY <session id>
# got 1094). Prints TAP.
#
# Usage: connid_ps.pl HOST PORT USER PASSWORD DB [OTHER_USER OTHER_PASSWORD]
use strict;
use warnings;
use DBI;
use Time::HiRes qw(time sleep);

my ($host, $port, $user, $pass, $db, $ouser, $opass) = @ARGV;
my $n = 0;

sub ok {
	my ($cond, $name, $why) = @_;
	$n++;
	print(($cond ? "ok" : "not ok") . " $n - $name\n");
	print "# $why\n" if !$cond && defined $why;
}

sub connect_db {
	my (%opt) = @_;
	my ($u, $p) = ($opt{user} // $user, $opt{pass} // $pass);
	delete @opt{qw(user pass)};
	my $dsn = "DBI:mysql:host=$host;port=$port" . ($db ne "" ? ";database=$db" : "");
	return DBI->connect($dsn, $u, $p,
	                    {RaiseError => 1, PrintError => 0, mysql_server_prepare => 1, %opt});
}

my $c = connect_db();
my $tid = $c->{mysql_thread_id};
for my $sql ("SELECT CONNECTION_ID()", "SELECT CONNECTION_ID() AS x", "SELECT 0 + CONNECTION_ID()") {
	my ($v) = $c->selectrow_array($sql);
	ok($v == $tid, "server-side prepared $sql: the greeting's id", "got $v, greeting $tid");
}
my $st = $c->prepare("SELECT CONNECTION_ID(), ?");
$st->execute(7);
my @row = $st->fetchrow_array;
ok($row[0] == $tid && $row[1] == 7, "a statement prepared once, executed with a parameter",
   "got @row");
ok(($st->{NAME}[0] // '') eq 'CONNECTION_ID()', "its column is named as written",
   "name " . ($st->{NAME}[0] // 'undef'));
$st->finish;

# KILL QUERY <session id>, prepared on the server, from a second session of the account.
my $k = connect_db(mysql_server_prepare => 0);
my $kid = $k->{mysql_thread_id};
my $t0 = time;
my $sleep = $k->prepare("SELECT SLEEP(10)", {async => 1});
$sleep->execute;
sleep 0.5;
my $o = connect_db();
my $err = eval { $o->do("KILL QUERY $kid"); 1 } ? "" : ($o->err // '?');
ok($err eq "", "prepared KILL QUERY <session id> is accepted", "error $err");
my $done = 0;
for (1 .. 150) {
	if ($sleep->mysql_async_ready) { $done = 1; last }
	sleep 0.1;
}
eval { $sleep->mysql_async_result };
my $secs = time - $t0;
ok($done && $secs < 5, sprintf("the SLEEP(10) ends within 5 s (%.1f s)", $secs));
$sleep->finish;
my ($one) = $k->selectrow_array("SELECT 1");
ok(defined $one && $one == 1, "the killed session goes on");

# An id that names nothing: 1094, as MariaDB answers it.
$err = eval { $o->do("KILL QUERY 1999999999"); 1 } ? 0 : ($o->err // 0);
ok($err == 1094, "prepared KILL of an unknown id: 1094", "error $err");
if (defined $ouser) {
	my $x = connect_db(user => $ouser, pass => $opass);
	$err = eval { $x->do("KILL QUERY $kid"); 1 } ? 0 : ($x->err // 0);
	ok($err == 1094, "another account's prepared KILL: 1094", "error $err");
	$x->disconnect;
}
$o->disconnect;
$k->disconnect;
$c->disconnect;
print "1..$n\n";
