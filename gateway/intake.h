/*
 * intake.h - what intake.c offers the other gateway files (a client's command, from the head
 * of its input to where it runs).
 */
#ifndef SLUICE_GW_INTAKE_H
#define SLUICE_GW_INTAKE_H

#include <stdbool.h>
#include <stdint.h>

#include "gateway/gw.h"
#include "proto/sqlscan.h"

/* A new session (COM_CHANGE_USER, COM_RESET_CONNECTION): no user variables, and
 * LAST_INSERT_ID() is 0 again. */
void client_forget_carried(struct gw_client *c);

/* What a statement's scan means for what c carries from connection to connection (the
 * user variables it may assign, LAST_INSERT_ID()); returns the flags to run it with. */
unsigned client_note_carried(struct gw_client *c, unsigned flags, const struct sql_uvars *names);

/* The scan of a COM_QUERY's text, noted (client_note_carried). */
unsigned client_scan_query(struct gw_client *c, const uint8_t *q, size_t n);

/* Start the head command: locally, on the held server, or through qos. */
void client_command(struct gw_client *c, const uint8_t *p, uint32_t len, uint8_t seq);

/* The KILL of id, for the command of len bytes at the head of c's input: true when it
 * must go on to a backend as subst_pkt, false when answered here. */
bool client_kill_id(struct gw_client *c, uint32_t id, bool query_only, uint32_t len);

/* A KILL of one of this worker's clients, from another client (GW_MSG_KILL). */
void client_on_kill(struct gw_msg *m);

#endif
