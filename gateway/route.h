/*
 * route.h - what route.c offers the other gateway files (a client's command on its way to a
 * server).
 */
#ifndef SLUICE_GW_ROUTE_H
#define SLUICE_GW_ROUTE_H

#include <stdbool.h>
#include <stdint.h>

#include "gateway/gw.h"

/* The client's pending output drained: let the server read again. */
void gw_client_send_command(struct gw_client *c, struct gw_server *s);

/* The statement (stmt.h) that c's command at the head of its input names, when it is a
 * COM_STMT_EXECUTE, _BULK_EXECUTE, _SEND_LONG_DATA, _RESET or _FETCH; else NULL. */
const struct gw_stmt *gw_client_stmt_pending(struct gw_client *c);

/* The first packet p (n bytes) of the answer to c's COM_STMT_PREPARE, running on s: on
 * success the statement gets c's id (written into p) and s records the backend's. */
void gw_client_stmt_prepared(struct gw_client *c, struct gw_server *s, uint8_t *p, uint32_t n);

/* COM_STMT_PREPARE: keep its SQL for the statement's record. false: answered here. */
bool client_stmt_prepare_begin(struct gw_client *c, const uint8_t *p, uint32_t len);

/* COM_STMT_EXECUTE, _BULK_EXECUTE, _SEND_LONG_DATA, _RESET, _FETCH at the head of the
 * input: the statement known, what its execute will do noted. false: answered here. */
bool client_stmt_intake(struct gw_client *c, const uint8_t *p, uint32_t len, bool resumed);

/* A packet of an execute that sluice made longer, on to s with the bytes it pushed on
 * carried into it. */
bool client_forward_shifted(struct gw_client *c, struct gw_server *s, const uint8_t *p,
                            uint32_t len, uint8_t seq);

#endif
