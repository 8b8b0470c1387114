/*
 * hold.h - what hold.c offers the other gateway files (a client holding a backend connection
 * between statements (a transaction, a pin, its diagnostics area) within its account's
 * max_pinned (issue 11, pins.h)).
 */
#ifndef SLUICE_GW_HOLD_H
#define SLUICE_GW_HOLD_H

#include <stdbool.h>
#include <stdint.h>

#include "gateway/gw.h"

void gw_client_sweep(struct gw_worker *w, uint64_t now);

/* Under sched_lock: c no longer holds (or is about to hold) a server between statements
 * (issue 11, pins.h). */
void gw_client_hold_drop_locked(struct gw_client *c);

/* Under sched_lock (the dispatcher): the waiting clients that now fit under their
 * account's cap get it, and a GW_MSG_HOLD each on *local or *remote. */
void gw_client_hold_grant_locked(struct gw_msg **local, struct gw_msg **remote);

/* Would c's command, should it succeed, leave c holding its server? */
bool client_expects_hold(const struct gw_client *c, uint8_t cmd);

/* Under sched_lock: room under the account's max_pinned for c to hold a server (true if
 * it holds one already); wait for it; stop waiting (false: its grant is on its way). */
bool client_hold_take_locked(struct gw_client *c);

void client_hold_wait_locked(struct gw_client *c);
bool client_hold_unwait_locked(struct gw_client *c);

#endif
