/*
 * uvars.h - user variables and LAST_INSERT_ID() across pooled connections (issue 12).
 *
 * A session's user variables and its LAST_INSERT_ID() live on the backend connection
 * that ran the statement that set them. Instead of pinning the session there, sluice
 * reads them back ("captures") when the connection is about to go back to the pool:
 * one SELECT that asks for LAST_INSERT_ID() and, for each user variable the session's
 * statements assigned, its bytes (HEX), character set, collation and value, whose column
 * definition gives the type. The answer becomes literals that restore the same value,
 * type and character set on another connection (session.h's SET, before a statement that
 * names them). A statement may also assign variables its text does not name (a stored
 * function it calls): the capture lists the names of the variables on the connection
 * that have a value too, and one that is neither the session's nor named keeps the
 * session on that connection (GW_CAP_FAIL). Pure: no sockets, no locks.
 */
#ifndef SLUICE_UVARS_H
#define SLUICE_UVARS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/session.h"
#include "proto/sqlscan.h"
#include "proto/wire.h"

enum gw_capture_state {
	GW_CAP_COUNT,    /* the column count (or an ERR) */
	GW_CAP_COLS,     /* column definitions */
	GW_CAP_COLS_EOF, /* the EOF after them (without CLIENT_DEPRECATE_EOF) */
	GW_CAP_ROW,      /* the one row */
	GW_CAP_END,      /* the EOF / OK that ends the result */
	GW_CAP_DONE,
};

#define GW_CAP_COLS_PER_VAR 4 /* HEX(@v), CHARSET(@v), COLLATION(@v), @v */

/* One capture: what was asked, where the answer has got to, what it said. */
struct gw_capture {
	bool lid;               /* LAST_INSERT_ID() asked (the first column) */
	struct sql_uvars names; /* the user variables asked */
	bool deprecate_eof;     /* CLIENT_DEPRECATE_EOF on the connection */
	enum gw_capture_state state;
	uint32_t col;                /* column definitions read so far */
	uint8_t type[SQL_UVARS_MAX]; /* field type of each @v column */
	uint64_t lid_value;          /* the answer, once the row is in */
	bool unreplayable;           /* a value in the row cannot be written as a literal */
	const struct gw_vars *known; /* borrowed: the variables the session had when the
	                              * statement began; set: the last column lists every
	                              * variable on the connection that is not NULL */
};

/* Start a capture of lid and names (copied) and write its COM_QUERY into b; with known
 * (borrowed until the capture is done), the names of every user variable on the
 * connection that is not NULL too, each of which must be in known or names. false (and
 * nothing written) when there is nothing to ask. */
bool gw_capture_begin(struct gw_capture *cap, struct wire_buf *b, bool lid,
                      const struct sql_uvars *names, bool deprecate_eof,
                      const struct gw_vars *known);

enum gw_capture_step {
	GW_CAP_MORE, /* go on */
	GW_CAP_OK,   /* done: the variables are in uv, the value in lid_value */
	GW_CAP_FAIL, /* done, but a value cannot be replayed (an ERR, a type or a length
	              * sluice does not write, a variable it did not know of): the session
	              * keeps its connection */
	GW_CAP_BAD,  /* not a valid answer: the connection is out of sync */
};

/* Feed one whole packet's payload of the answer. The row's values are written into uv
 * (each variable set to its literal, or removed when NULL). */
enum gw_capture_step gw_capture_feed(struct gw_capture *cap, const uint8_t *p, size_t n,
                                     struct gw_vars *uv);

/* The literal that gives a user variable its value again, into out (NUL-terminated).
 * type is the column's field type; num the value as text (numbers), hex its bytes as hex
 * and charset / collation their names (strings). false when it cannot be written. Exposed
 * for the unit tests. */
bool gw_uvar_literal(char *out, size_t outlen, uint8_t type, const uint8_t *num, size_t numlen,
                     const uint8_t *hex, size_t hexlen, const uint8_t *charset, size_t cslen,
                     const uint8_t *collation, size_t colllen);

/* Append "@name=<literal>" or "@name=NULL" for every user variable that differs between
 * want and have to a SET being written (first: nothing written yet). */
void gw_uvars_put_set(struct wire_buf *b, const struct gw_vars *want, const struct gw_vars *have,
                      bool *first);

#endif
