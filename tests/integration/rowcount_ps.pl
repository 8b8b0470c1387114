#!/usr/bin/perl
# rowcount_ps.pl - ROW_COUNT() in a server-side prepared statement (DBD::mysql with
# mysql_server_prepare), read after each of 20 UPDATEs of 1 to 3 rows of t (ids 1000..1002)
# while a second session of the same account runs its own UPDATE of one row between
# them. Prints "wrong N of 20" and the first wrong value. Used by differences.t.
# Usage: rowcount_ps.pl HOST PORT USER PASSWORD DB
use strict;
use warnings;
use DBI;

my ($host, $port, $user, $pass, $db) = @ARGV;
my $dsn = "DBI:mysql:database=$db;host=$host;port=$port;mysql_server_prepare=1";
my %opt = (RaiseError => 1, PrintError => 0, AutoCommit => 1);
my $c = DBI->connect($dsn, $user, $pass, \%opt);
my $rc = $c->prepare("SELECT ROW_COUNT()");
my ($wrong, $first) = (0, '');
for my $i (0 .. 19) {
	my $want = 1 + $i % 3;
	$c->do("UPDATE t SET v = v + 1 WHERE id < ?", undef, 1000 + $want);
	my $churn = DBI->connect($dsn, $user, $pass, \%opt);
	$churn->do("UPDATE t SET v = v + 1 WHERE id = 1000");
	$churn->disconnect;
	$rc->execute;
	my ($got) = $rc->fetchrow_array;
	if ($got != $want) {
		$first = " (first: $got where $want)" if !$wrong;
		$wrong++;
	}
}
print "wrong $wrong of 20$first\n";
$rc->finish;
undef $rc;
$c->disconnect;
