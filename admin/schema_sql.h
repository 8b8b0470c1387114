/*
 * schema_sql.h - the schema migrations compiled into the binary.
 *
 * The table itself (schema_sql.c) is generated at build time from schema/NNN_*.sql by a
 * sed rule in Makefile.am ("### admin"); only admin/store.c reads it.
 */
#ifndef SLUICE_SCHEMA_SQL_H
#define SLUICE_SCHEMA_SQL_H

#include <stddef.h>

struct store_migration {
	int version;      /* NNN of the file name; PRAGMA user_version after applying it */
	const char *file; /* borrowed (static): the file name, for error messages */
	const char *sql;  /* borrowed (static): the whole file, run with sqlite3_exec() */
};

/* Sorted by version, as the shell's glob order of schema/NNN_*.sql gives them. */
extern const struct store_migration store_migrations[];
extern const size_t store_n_migrations;

#endif
