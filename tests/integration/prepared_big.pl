#!/usr/bin/perl
# prepared_big.pl PORT USER PASSWORD DB: what issue 12's symptom 10 was seen with: DBD::mysql
# with server-side prepare, a 17 MiB string parameter, three executes of one statement,
# its backend connection KILLed (as root, MARIADB_SOCKET or MARIADB_PORT from the
# environment) after the first. Prints one line per step for prepared_big.t.
use strict;
use warnings;
use DBI;

my ($port, $user, $pass, $db) = @ARGV;
my $len = 17 * 1048576;
my $dbh = DBI->connect("DBI:mysql:database=$db;host=127.0.0.1;port=$port", $user, $pass,
                       { mysql_server_prepare => 1, RaiseError => 0, PrintError => 0 })
    or die "connect: $DBI::errstr\n";
$dbh->do("DROP TABLE IF EXISTS dbd_big") and $dbh->do("CREATE TABLE dbd_big (n INT, b LONGBLOB)")
    or die "create: " . $dbh->errstr . "\n";
my $sth = $dbh->prepare("INSERT INTO dbd_big VALUES (?, ?)") or die "prepare: " . $dbh->errstr . "\n";
my $alphabet = 'abcdefghijklmnopqrstuvwxyz' x (int($len / 26) + 2);
for my $n (0 .. 2) {
	my $rc = $sth->execute($n, substr($alphabet, $n, $len));
	print "execute $n: ", (defined $rc ? "ok $rc" : "ERR " . $sth->err . " " . $sth->errstr), "\n";
	next if $n != 0;
	my ($tid) = $dbh->selectrow_array('SELECT @@pseudo_thread_id');
	my $root = $ENV{MARIADB_SOCKET}
	    ? DBI->connect("DBI:mysql:mysql_socket=$ENV{MARIADB_SOCKET}", 'root', '')
	    : DBI->connect("DBI:mysql:host=127.0.0.1;port=$ENV{MARIADB_PORT}", 'root',
	                   $ENV{MARIADB_ROOT_PASSWORD} // '');
	print "KILL the backend connection: ", ($root && $root->do("KILL $tid") ? "ok" : "failed"), "\n";
	# for sluice to see the connection go, as psclient's kill_backend() waits
	select(undef, undef, undef, 0.2);
}
my $rows = $dbh->selectall_arrayref(
    "SELECT n, LENGTH(b), MD5(b) = MD5(SUBSTRING(REPEAT('abcdefghijklmnopqrstuvwxyz', "
  . "$len DIV 26 + 2), n + 1, $len)) FROM dbd_big ORDER BY n");
print "rows (n, LENGTH, MD5 right): ", join(", ", map { join(" ", map { $_ // "NULL" } @$_) } @{ $rows || [] }), "\n";
$dbh->do("DROP TABLE IF EXISTS dbd_big");
