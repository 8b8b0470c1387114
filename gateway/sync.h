/*
 * sync.h - what sync.c offers the other gateway files (bringing a backend connection in line
 * with the client whose statement it is about to run, in one write answered in order).
 */
#ifndef SLUICE_GW_SYNC_H
#define SLUICE_GW_SYNC_H

#include <stdbool.h>
#include <stdint.h>

#include "gateway/gw.h"
#include "proto/wire.h"

/* Begin running client c's command on s (s bound, on any worker): moves s here,
 * connects or prepares it as needed, then sends the command. */
void gw_server_run(struct gw_server *s, struct gw_client *c);

/* Does c's statement name user variables or LAST_INSERT_ID() that s does not hold as c
 * has them (uvars.h)? Then it must go by way of gw_server_run(), which sets them, even
 * on a server c holds. */
bool gw_server_needs_sync(const struct gw_server *s, const struct gw_client *c);

/* c's command is done and s is about to go: read back the user variables and
 * LAST_INSERT_ID() its statements changed (uvars.h), then gw_client_response_done()
 * again. false when there is nothing to read. */
bool gw_server_capture(struct gw_server *s, struct gw_client *c);

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

#endif
