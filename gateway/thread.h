/*
 * thread.h - what thread.c offers the other gateway files (the worker threads).
 */
#ifndef SLUICE_GW_THREAD_H
#define SLUICE_GW_THREAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gateway/gw.h"

/* This thread's worker id, UINT32_MAX outside the workers (main, admin). */
extern _Thread_local uint32_t gw_self_worker;

bool gw_start(char *err, size_t errlen) GW_MUSTCHECK;
void gw_stop(void);

/* Close the listening sockets (SIGTERM: drain). */
void gw_stop_accepting(void);

/* Hand a message to the client's worker (queue + wake it). Never under sched_lock. */
void gw_worker_post(struct gw_msg *m);

/* Have w's current loop pass end with worker_after_pass(): the dispatch, if one was asked
 * for, and freeing the clients closed in the pass. On w's thread. */
void gw_worker_after(struct gw_worker *w);

void gw_worker_post_to(struct gw_worker *w, struct gw_msg *m);

/* Something may let queued work run (a request queued, a connection came free or closed,
 * a statement ended, a hold ended, rules changed): ask for a dispatch at the end of this
 * loop pass (thread.c). Outside the workers, worker 0 is asked. Takes no lock. */
void gw_sched_kick(void);

#endif
