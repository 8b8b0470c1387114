/*
 * engine.h - functions the gateway's modules call on one another (thread.c, client.c,
 * server.c, accounts.c). Not for admin/ or qos/.
 */
#ifndef SLUICE_ENGINE_H
#define SLUICE_ENGINE_H

#include <sys/socket.h>

#include "admin/admin.h"
#include "admin/store.h"
#include "gateway/gw.h"

/* ---- threads (thread.c) ---- */
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

/* ---- CONNECTION_ID() and KILL (killmap.c) ---- */
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
void gw_worker_post_to(struct gw_worker *w, struct gw_msg *m);

/* ---- clients (client.c) ---- */
void gw_client_accept(struct gw_worker *w, int fd, const struct sockaddr *sa);
void gw_client_on_msg(struct gw_msg *m);
void gw_client_sweep(struct gw_worker *w, uint64_t now);
void gw_worker_reclaim(struct gw_worker *w);
/* The server finished (or failed) the client's command. */
void gw_client_response_done(struct gw_client *c, struct gw_server *s);
/* Send an ERR to the client as the response to its current command. */
void gw_client_command_error(struct gw_client *c, uint8_t seq, uint16_t code, const char *state,
                             const char *msg);
/* Server bytes [p, p+n) go to the client. false when the client is gone or failed. */
bool gw_client_forward(struct gw_client *c, const uint8_t *p, size_t n);
/* The same for two pieces, in one send. */
bool gw_client_forward2(struct gw_client *c, const uint8_t *p1, size_t n1, const uint8_t *p2,
                        size_t n2);
/* The client's pending output drained: let the server read again. */
void gw_client_send_command(struct gw_client *c, struct gw_server *s);
void gw_client_infile_begin(struct gw_client *c);
/* The statement (stmt.h) that c's command at the head of its input names, when it is a
 * COM_STMT_EXECUTE, _BULK_EXECUTE, _SEND_LONG_DATA, _RESET or _FETCH; else NULL. */
const struct gw_stmt *gw_client_stmt_pending(struct gw_client *c);
/* The first packet p (n bytes) of the answer to c's COM_STMT_PREPARE, running on s: on
 * success the statement gets c's id (written into p) and s records the backend's. */
void gw_client_stmt_prepared(struct gw_client *c, struct gw_server *s, uint8_t *p, uint32_t n);
/* The schema check of c's login (login_check) ran on s: err NULL, the schema was
 * accepted and the login is answered OK; else err (errlen bytes) is the backend's ERR
 * payload, which becomes the login's answer. s goes back to the pool (reusable) or is
 * closed. */
void gw_client_login_checked(struct gw_client *c, struct gw_server *s, const uint8_t *err,
                             uint32_t errlen, bool reusable);
/* Server lost while running c's command; close_client: end the session. */
void gw_client_server_lost(struct gw_client *c, uint8_t seq, const char *why);
const char *gw_client_state_name(enum gw_client_state st);

/* ---- servers and the pool (server.c) ---- */
void gw_pool_init(void);
/* Close this worker's idle servers while the pool is bigger than its size (janitor). */
void gw_pool_trim(struct gw_worker *w);
/* No statement running or queued (pinned clients between statements don't count). */
bool gw_pool_quiet(void);
/* At the end of a loop pass (worker_after_pass, the only caller), takes sched_lock: bind
 * free servers to picked requests and grant places under max_pinned; runs of this
 * thread's clients start at once, the others' are posted. */
void gw_sched_dispatch(void);
/* Post the remote messages, then run the local ones in order. */
void gw_sched_deliver(struct gw_msg *local, struct gw_msg *remote);
/* Something may let queued work run (a request queued, a connection came free or closed,
 * a statement ended, a hold ended, rules changed): ask for a dispatch at the end of this
 * loop pass (thread.c). Outside the workers, worker 0 is asked. Takes no lock. */
void gw_sched_kick(void);
/* Run a LIFO-chained list of messages for this thread's clients, oldest first. */
void gw_msgs_run(struct gw_msg *list);
/* Begin running client c's command on s (s bound, on any worker): moves s here,
 * connects or prepares it as needed, then sends the command. */
void gw_server_run(struct gw_server *s, struct gw_client *c);
/* The client is done with s for now: back to the pool or closed. Takes sched_lock. */
void gw_server_release(struct gw_server *s, bool reusable);
/* Does c's statement name user variables or LAST_INSERT_ID() that s does not hold as c
 * has them (uvars.h)? Then it must go by way of gw_server_run(), which sets them, even
 * on a server c holds. */
/* s starts a fresh session (logged in again, COM_CHANGE_USER, COM_RESET_CONNECTION):
 * nothing set on it, no statements prepared, LAST_INSERT_ID() nobody's. */
void gw_server_session_reset(struct gw_server *s);
bool gw_server_needs_sync(const struct gw_server *s, const struct gw_client *c);
/* c's command is done and s is about to go: read back the user variables and
 * LAST_INSERT_ID() its statements changed (uvars.h), then gw_client_response_done()
 * again. false when there is nothing to read. */
bool gw_server_capture(struct gw_server *s, struct gw_client *c);
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
/* How long no connection may have come free before the pool counts as stuck: busy pools
 * free one every few hundred microseconds (a loaded 2-core CI box under ASan went 10 ms
 * without), and then the queue serves a light account soon enough; a pool held by long
 * statements or unread results frees none. */
#define GW_RESERVE_AFTER_NS (50u * 1000000u)
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
/* Under sched_lock: c no longer holds (or is about to hold) a server between statements
 * (issue 11, pins.h). */
void gw_client_hold_drop_locked(struct gw_client *c);
/* Under sched_lock (the dispatcher): the waiting clients that now fit under their
 * account's cap get it, and a GW_MSG_HOLD each on *local or *remote. */
void gw_client_hold_grant_locked(struct gw_msg **local, struct gw_msg **remote);
/* Under sched_lock: c's statement that skipped the queue is over (done, failed or
 * abandoned). */
/* Under sched_lock: c's request, picked from the queue, is done after cost ns of backend
 * time: qos completes it. false when it was not running (it ran without queueing, or it
 * never started). */
bool gw_client_req_done_locked(struct gw_client *c, uint64_t cost, uint64_t now);
void gw_client_unqueued_done_locked(struct gw_client *c);
/* Close s (the client, if any, is told its statement was lost). */
void gw_server_fail(struct gw_server *s, const char *why);
/* Send the COM_STMT_CLOSEs s's statement cache let go (no answers). false: s failed. */
bool gw_server_flush_closes(struct gw_server *s);
/* The client vanished while s was running its command (issue 11): s is never used again
 * as it is, since the statement may have left a transaction, variables or locks behind
 * that the client's status did not show. awaits_client: the backend waits for more of
 * the command (file data, a continuation), so it is closed at once, which aborts the
 * statement; otherwise a statement still running is killed (as its account, switched to
 * with cred, the client's credentials) and the rest of the answer is read away, and
 * then s is closed. */
void gw_server_orphan(struct gw_server *s, bool awaits_client, const struct gw_cred *cred);
/* Send bytes to the backend (buffering what does not fit). */
bool gw_server_send(struct gw_server *s, const void *p, size_t n) GW_MUSTCHECK;
/* Pause / resume reading the backend (client backpressure). */
void gw_server_pause(struct gw_server *s, bool pause);
/* Re-examine buffered response bytes after the client drained its output. */
void gw_server_resume(struct gw_server *s);
const char *gw_server_state_name(enum gw_server_state st);

/* ---- accounts and stats (accounts.c) ---- */
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
