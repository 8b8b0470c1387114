/*
 * server.h - what server.c offers the other gateway files (a backend connection's life).
 */
#ifndef SLUICE_GW_SERVER_H
#define SLUICE_GW_SERVER_H

#include <stdbool.h>
#include <stdint.h>

#include "gateway/gw.h"
#include "proto/wire.h"

static inline enum gw_server_state server_state(const struct gw_server *s)
{
	return gw_server_state(s);
}

/* s starts a fresh session (logged in again, COM_CHANGE_USER, COM_RESET_CONNECTION):
 * nothing set on it, no statements prepared, LAST_INSERT_ID() nobody's. */
void gw_server_session_reset(struct gw_server *s);

/* Close s (the client, if any, is told its statement was lost). */
void gw_server_fail(struct gw_server *s, const char *why);

/* Send the COM_STMT_CLOSEs s's statement cache let go (no answers). false: s failed. */
bool gw_server_flush_closes(struct gw_server *s);

/* The client vanished while s was running its command (issue 11): s is never used again
 * as it is, since the statement may have left a transaction, variables or locks behind
 * that the client's status did not show. awaits_client: the backend waits for more of
 * the command (file data, a continuation), so it is closed at once, which aborts the
 * statement; otherwise a statement still running is killed (as its account, switched to
 * with cred, the client's credentials) and the rest of the answer is read away, and
 * then s is closed. */
void gw_server_orphan(struct gw_server *s, bool awaits_client, const struct gw_cred *cred);

/* Send bytes to the backend (buffering what does not fit). */
bool gw_server_send(struct gw_server *s, const void *p, size_t n) GW_MUSTCHECK;

/* Pause / resume reading the backend (client backpressure). */
void gw_server_pause(struct gw_server *s, bool pause);

/* Re-examine buffered response bytes after the client drained its output. */
void gw_server_resume(struct gw_server *s);

const char *gw_server_state_name(enum gw_server_state st);

/* The state, stored: the only writer, with server_set_state() (which logs it too). */
void server_store_state(struct gw_server *s, enum gw_server_state st);

void server_set_state(struct gw_server *s, enum gw_server_state st);

/* Close the socket and free the slot; a client still bound learns it lost its server. */
void server_close(struct gw_server *s, const char *why);

/* A connect or login of s failed: the backend is down a while (BACKOFF), clients
 * waiting for a connection get the error. */
void server_connect_failed(struct gw_server *s, const char *why);

/* Open s's socket for c and log in (then server_prepare()). */
void server_connect(struct gw_server *s, struct gw_client *c);

/* Make worker w the home of s's events. */
void server_attach(struct gw_server *s, struct gw_worker *w);

/* Send b (and free it); false when s failed (closed). */
bool server_send_wbuf(struct gw_server *s, struct wire_buf *b);

/* One step of the sync write was answered: on to the next, or back to server_prepare(). */
void server_prep_answered(struct gw_server *s, struct gw_client *c);

/* "what: <the backend's message>" of an ERR payload, or "what" alone, into buf. */
void server_err_reason(const uint8_t *p, size_t len, const char *what, char *buf, size_t n);

#endif
