/*
 * killmap.h - what killmap.c offers the other gateway files (CONNECTION_ID() and KILL
 * through a pool).
 */
#ifndef SLUICE_GW_KILLMAP_H
#define SLUICE_GW_KILLMAP_H

#include <stdbool.h>
#include <stdint.h>

#include "gateway/gw.h"

enum gw_kill_result {
	GW_KILL_UNKNOWN = 0, /* no such session of the account: ERR 1094 */
	GW_KILL_NOTHING,     /* no statement on a backend: the target's worker handles it */
	GW_KILL_BACKEND,     /* run KILL QUERY *backend_tid on another connection */
};
void gw_killmap_add(struct gw_client *c);
void gw_killmap_set_account(struct gw_client *c);
void gw_killmap_remove(struct gw_client *c);
enum gw_kill_result gw_kill_prepare(struct gw_client *c, uint32_t id, uint32_t *backend_tid,
                                    uint32_t *target_id, struct gw_worker **target_worker);

/* A column definition p[0..n) of the answer to c's COM_QUERY or COM_STMT_PREPARE, whose
 * CONNECTION_ID() or ROW_COUNT() calls were rewritten (sqlscan.h): named as the client
 * wrote it and, with retype, typed as MariaDB types the function, in place. */
void gw_subst_coldef(const struct gw_client *c, uint8_t *p, size_t n, bool retype);

#endif
