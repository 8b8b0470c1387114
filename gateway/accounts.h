/*
 * accounts.h - what accounts.c offers the other gateway files (the live account table and
 * per-account statistics).
 */
#ifndef SLUICE_GW_ACCOUNTS_H
#define SLUICE_GW_ACCOUNTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "admin/admin.h"
#include "admin/store.h"
#include "gateway/gw.h"

/* Load every account from the store into the live table (startup and after admin
 * writes). Existing accounts are updated in place; missing ones are marked dead. */
bool gw_accounts_load(struct store *st, char *err, size_t errlen) GW_MUSTCHECK;

/* Under sched_lock. */
struct gw_account *gw_account_find_locked(const char *name);

/* On the client's worker, no lock: one completed request's latency and backend time. */
void gw_account_record(struct gw_account *a, uint32_t worker, uint64_t now, uint64_t latency_ns,
                       uint64_t backend_ns);

void gw_account_reject_locked(struct gw_account *a, enum gw_reject_reason why);
bool gw_stats_collect(void *ud, struct adm_stats *out);
bool gw_publish(void *ud, struct store *st, char *err, size_t errlen);

/* Apply the store's backend row (address, pool size) to the running gateway. */
bool gw_backend_apply(struct store *st, char *err, size_t errlen) GW_MUSTCHECK;

/* Resolve HOST:PORT into a socket address. */
bool gw_resolve(const char *host, uint16_t port, struct sockaddr_storage *sa, socklen_t *salen,
                char *err, size_t errlen) GW_MUSTCHECK;

#endif
