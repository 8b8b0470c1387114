#!/usr/bin/perl
# compress_ps.pl - a compressed DBD::mysql session with server-side prepared statements
# (mysql_compression=1, mysql_server_prepare=1) asks whether it is compressed, through
# SHOW STATUS and through information_schema.SESSION_STATUS with a parameter; prints
# each answer as NAME=VALUE on a line. Used by compress_status.t (issue 12).
# Usage: compress_ps.pl HOST PORT USER PASSWORD DB
use strict;
use warnings;
use DBI;

my ($host, $port, $user, $pass, $db) = @ARGV;
my $d = DBI->connect("DBI:mysql:database=$db;host=$host;port=$port;"
                     . "mysql_server_prepare=1;mysql_compression=1",
                     $user, $pass, { RaiseError => 1, PrintError => 0 });
my $r = $d->selectall_arrayref("SHOW STATUS LIKE 'Compression'");
print join("=", @$_), "\n" for @$r;
my $s = $d->prepare("SELECT VARIABLE_NAME, VARIABLE_VALUE FROM "
                    . "information_schema.SESSION_STATUS WHERE VARIABLE_NAME = ?");
$s->execute("COMPRESSION");
print join("=", @$_), "\n" for @{ $s->fetchall_arrayref };
undef $s;
$d->disconnect;
