/*
 * session.h - replayable session state: the session system variables a client SET, as
 * the backend reported them (CLIENT_SESSION_TRACK with session_track_system_variables
 * = '*'), and the statement that brings a backend connection's variables in line with
 * a client's. Pure: no sockets, no locks.
 */
#ifndef SLUICE_SESSION_H
#define SLUICE_SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/wire.h"

#define GW_VARS_MAX      128  /* distinct variables one session may set */
#define GW_VAR_VALUE_MAX 4096 /* longest value (or user variable literal) we replay */

struct gw_var {
	char *name;  /* owned; name and value share one allocation */
	char *value; /* points into the same allocation */
	bool expr;   /* value is one of sluice's own expressions (gw_vars_set_expr), written
	              * as SQL; every other value is written as a literal */
};

/* A set of session variables, sorted by name. */
struct gw_vars {
	struct gw_var *v; /* owned array */
	uint32_t n;
	uint32_t cap;
	uint64_t hash; /* of the whole set; equal sets have equal hashes */
};

void gw_vars_free(struct gw_vars *vs);
void gw_vars_clear(struct gw_vars *vs);
/* Set name=value (replacing): a value learned from the client or the backend, always
 * replayed as a literal. false when out of memory, over the limits, or when name is not
 * an identifier ([A-Za-z0-9_]{1,64}) or value holds a NUL byte. */
bool gw_vars_set(struct gw_vars *vs, const char *name, size_t nlen, const char *value, size_t vlen);
/* Set name to one of the expressions sluice itself needs, replayed as SQL (issue 11: kept
 * apart from values a client can choose). Only the expressions in session.c's list are
 * taken; false for anything else. */
bool gw_vars_set_expr(struct gw_vars *vs, const char *name, const char *expr);
/* Set a user variable's name to a literal written by gw_uvar_literal() (uvars.h): replayed
 * as it is. false as gw_vars_set(). */
bool gw_vars_set_literal(struct gw_vars *vs, const char *name, size_t nlen, const char *lit,
                         size_t litlen);
void gw_vars_remove(struct gw_vars *vs, const char *name);
const struct gw_var *gw_vars_get(const struct gw_vars *vs, const char *name);
/* Is every name in a also in b (values aside)? */
bool gw_vars_names_within(const struct gw_vars *a, const struct gw_vars *b);
bool gw_vars_copy(struct gw_vars *dst, const struct gw_vars *src);
bool gw_vars_equal(const struct gw_vars *a, const struct gw_vars *b);

/* What one OK packet's session-state block said. */
struct gw_session_change {
	bool schema; /* a new current schema */
	char db[193];
	uint32_t nvars;     /* system variables reported */
	bool state_changed; /* SESSION_TRACK_STATE_CHANGE said 1 */
	bool lid_set;       /* the client SET last_insert_id: to lid (not a variable to replay:
	                     * the next insert changes it) */
	uint64_t lid;
	bool overflow; /* a variable could not be recorded */
};

/* Parse the session-state block of an OK packet, recording variables into vs (which
 * may be NULL). false when the block is malformed. Variables sluice manages itself
 * (session_track_*) are not recorded. */
bool gw_session_parse(const uint8_t *state, size_t len, struct gw_vars *vs,
                      struct gw_session_change *out);

/* What a connection's session must become before a client's statement runs on it. */
struct gw_sync {
	const struct gw_vars *want, *have;   /* session variables: the client's, the connection's */
	const struct gw_vars *uwant, *uhave; /* user variables, when the statement names any */
	bool tracking;                       /* switch on the session tracking sluice relies on */
	bool set_lid;                        /* give LAST_INSERT_ID() the client's value: */
	uint64_t lid;
	uint8_t charset; /* the client's handshake collation id: what its character_set_client,
	                  * _connection, _results and collation_connection are unless it SET
	                  * them (DEFAULT would give the server's global ones) */
};

/* Build "SET @@SESSION.a=..., @@SESSION.b=DEFAULT, @u=..." as a COM_QUERY packet
 * (sequence 0) that turns a connection's session into the one sync describes. Returns
 * false (and builds nothing) when there is nothing to do. Values are written as literals
 * that read the same under every sql_mode (NO_BACKSLASH_ESCAPES, ANSI_QUOTES): a plain
 * number bare, text without backslashes or bytes outside printable ASCII in single quotes
 * (quotes doubled), anything else as a hex literal X'..'; user variables as uvars.h
 * wrote them. */
bool gw_session_build_set(struct wire_buf *b, const struct gw_sync *sync);

/* Rewrite an OK packet (payload p[0..n), sequence seq) for a client that did not ask for
 * CLIENT_SESSION_TRACK: the info stays (string<lenenc>, as servers write it), the state
 * block and SERVER_SESSION_STATE_CHANGED go. */
void gw_ok_strip_tracking(struct wire_buf *b, uint8_t seq, const uint8_t *p, size_t n,
                          uint32_t server_caps);

#endif
