/*
 * done.h - what done.c offers the other gateway files (the end of a client's command, and
 * what reaches a client from elsewhere).
 */
#ifndef SLUICE_GW_DONE_H
#define SLUICE_GW_DONE_H

#include <stdbool.h>
#include <stdint.h>

#include "gateway/gw.h"

void gw_client_on_msg(struct gw_msg *m);

/* The server finished (or failed) the client's command. */
void gw_client_response_done(struct gw_client *c, struct gw_server *s);

void gw_client_infile_begin(struct gw_client *c);

/* Server lost while running c's command; close_client: end the session. */
void gw_client_server_lost(struct gw_client *c, uint8_t seq, const char *why);

/* Under sched_lock: c's request, picked from the queue, is done after cost ns of backend
 * time: qos completes it. false when it was not running (it ran without queueing, or it
 * never started). */
bool gw_client_req_done_locked(struct gw_client *c, uint64_t cost, uint64_t now);

/* Under sched_lock: c's statement that skipped the queue is over (done, failed or
 * abandoned). */
void gw_client_unqueued_done_locked(struct gw_client *c);

#endif
