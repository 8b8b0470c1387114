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

/* ---- pool.c ---- */
/* Under sched_lock: take s off the idle list. */
void idle_remove_locked(struct gw_server *s);
/* Under sched_lock: take s off its account's held list. */
void unhold_locked(struct gw_server *s);
/* s's HELD spell ran out (its hold_ev). */
void server_on_hold_end(evutil_socket_t fd, short what, void *arg);

#endif
