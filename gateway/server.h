/*
 * server.h - what server.c (a backend connection's life: connect, log in, sync, stream,
 * capture, close) and pool.c (the slots, the idle and held lists, dispatch, release)
 * share. Not for the rest of the gateway, which uses engine.h.
 */
#ifndef SLUICE_SERVER_H
#define SLUICE_SERVER_H

#include "gateway/gw.h"

/* ---- server.c ---- */
static inline enum gw_server_state server_state(const struct gw_server *s)
{
	return gw_server_state(s);
}
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

/* ---- stream.c ---- */
/* Pass on what s->in holds of the running command's answer, to its end. */
void server_stream(struct gw_server *s);

/* ---- sync.c ---- */
/* Bring s in line with c, or send c's command when it already is. */
void server_prepare(struct gw_server *s, struct gw_client *c);
/* The statements s's cache let go, closed on the backend (COM_STMT_CLOSE: no answer). */
void stmt_build_closes(struct gw_server *s, struct wire_buf *b);
/* Whole packets of a capture's answer (CAPTURE state); at its end the client's command
 * ends. */
void server_capture_read(struct gw_server *s);
/* A packet of the answer to a statement's prepare (GW_PREP_STMT, _STMT_DB). */
void stmt_answer(struct gw_server *s, struct gw_client *c, enum gw_prep_step step, const uint8_t *p,
                 uint32_t len);

/* ---- pool.c ---- */
/* Under sched_lock: take s off the idle list. */
void idle_remove_locked(struct gw_server *s);
/* Under sched_lock: take s off its account's held list. */
void unhold_locked(struct gw_server *s);
/* s's HELD spell ran out (its hold_ev). */
void server_on_hold_end(evutil_socket_t fd, short what, void *arg);

#endif
