/*
 * pool.h - what pool.c offers the other gateway files (the pool of backend connections and
 * the scheduler's side of it).
 */
#ifndef SLUICE_GW_POOL_H
#define SLUICE_GW_POOL_H

#include <stdbool.h>
#include <stdint.h>

#include "gateway/gw.h"

/* How long no connection may have come free before the pool counts as stuck: busy pools
 * free one every few hundred microseconds (a loaded 2-core CI box under ASan went 10 ms
 * without), and then the queue serves a light account soon enough; a pool held by long
 * statements or unread results frees none. */
#define GW_RESERVE_AFTER_NS (50u * 1000000u)

void gw_pool_init(void);

/* Close this worker's idle servers while the pool is bigger than its size (janitor). */
void gw_pool_trim(struct gw_worker *w);

/* No statement running or queued (pinned clients between statements don't count). */
bool gw_pool_quiet(void);

/* At the end of a loop pass (worker_after_pass, the only caller), takes sched_lock: bind
 * free servers to picked requests and grant places under max_pinned; runs of this
 * thread's clients start at once, the others' are posted. */
void gw_sched_dispatch(void);

/* Chain m (for m->client) on *local when the client is this thread's, else on *remote:
 * under sched_lock, messages are only chained; gw_sched_deliver() runs and posts them
 * after the unlock. */
void gw_msg_chain(struct gw_msg *m, struct gw_msg **local, struct gw_msg **remote);

/* Post the remote messages, then run the local ones in order. */
void gw_sched_deliver(struct gw_msg *local, struct gw_msg *remote);

/* Run a LIFO-chained list of messages for this thread's clients, oldest first. */
void gw_msgs_run(struct gw_msg *list);

/* The client is done with s for now: back to the pool or closed. Takes sched_lock. */
void gw_server_release(struct gw_server *s, bool reusable);

/* Under sched_lock: the server HELD for c's account, now bound to c (its statement skips
 * the queue, counts as active until gw_client_unqueued_done_locked() and is charged all
 * the same), or NULL; one that c's account may no longer skip the queue for goes idle,
 * for the caller's dispatch. */
struct gw_server *gw_server_take_held_locked(struct gw_client *c);

/* Under sched_lock: how many picked (queued) statements may run at once: --max-active,
 * at most the pool size. */
uint32_t gw_active_cap_locked(void);

/* Under sched_lock: a spare server for c's statement, bound to c and skipping the queue
 * like a held one, or NULL. Spare: queued statements already run on --max-active
 * servers and the pool has room above that; and c's account is sparse: nothing queued,
 * nothing running, within its share (docs/qos.md). */
struct gw_server *gw_server_take_spare_locked(struct gw_client *c);

/* Under sched_lock: a connection beyond the pool's size for c's statement, bound to c and
 * skipping the queue like a spare one (taken out of the queue when it waits there), or
 * NULL. Only when every connection is busy, none came free for 50 ms, and c's account
 * occupies none and queues nothing else (issue 11: long statements, unread results and
 * held sessions of other accounts cannot keep it from starting); at most an eighth of
 * the pool (at least 1) such connections at once, each closed after its statement. */
struct gw_server *gw_server_take_reserve_locked(struct gw_client *c);

/* Under sched_lock: a connection free at once for the schema check of c's login (issue
 * 12), bound to c and skipping the queue like a held one: the one HELD for c's account,
 * an idle one, or a slot not yet connected; NULL when the pool is busy, the backend down,
 * or statements wait in the queue (they come first). */
struct gw_server *gw_server_take_free_locked(struct gw_client *c);

/* Under sched_lock: take s off the idle list. */
void idle_remove_locked(struct gw_server *s);

/* Under sched_lock: take s off its account's held list. */
void unhold_locked(struct gw_server *s);

/* s's HELD spell ran out (its hold_ev). */
void server_on_hold_end(evutil_socket_t fd, short what, void *arg);

#endif
