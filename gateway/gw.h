/*
 * gw.h - the gateway's shared types: workers, clients, backend servers, the pool and
 * accounts. Types only; the functions live beside their module.
 *
 * Threads and ownership:
 *  - T workers, each with its own event_base and its own SO_REUSEPORT listening socket.
 *    A client belongs to the worker that accepted it, for life.
 *  - A backend server connection belongs to one worker at a time: the one whose base
 *    holds its events. When the scheduler gives an idle server to a client of another
 *    worker, the server moves there (its event is deleted and re-assigned).
 *  - One mutex, gw.sched_lock, guards qos, the pool's lists and server states, and the
 *    account table. It is held only for enqueue / pick / complete and list moves: no
 *    I/O, no allocation, no logging under it.
 */
#ifndef SLUICE_GW_H
#define SLUICE_GW_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <sys/socket.h>

#include <event2/event.h>

#include "gateway/hosts.h"
#include "proto/buf.h"
#include "proto/compress.h"
#include "proto/session.h"
#include "proto/sqlscan.h"
#include "proto/stmt.h"
#include "proto/uvars.h"
#include "proto/wire.h"
#include "qos/qos.h"

#define GW_MUSTCHECK __attribute__((warn_unused_result))
/* Session ids (a client's greeting and CONNECTION_ID()) run from 1,000,000,000 up to
 * 2^31 - 1 (drivers that keep the id in a signed int), apart from MariaDB's thread ids,
 * which KILL also takes (killmap.c). The span is a multiple of 64 (client.c). */
#define GW_SESSION_ID_BASE 1000000000ull
#define GW_SESSION_ID_SPAN 1147483648ull
#define GW_BUG_ON(cond)                                                                            \
	do {                                                                                       \
		if (cond)                                                                          \
			gw_bug(__FILE__, __LINE__, #cond);                                         \
	} while (0)

void gw_bug(const char *file, int line, const char *what) __attribute__((noreturn));

/* Event priorities on every worker: backend responses, hand-offs and the janitor run
 * before client reads of accounts that have a backlog anyway (their new statements would
 * only join a queue), so a quiet tenant's statement is not stuck behind a noisy one's. */
#define GW_PRIO_HIGH 0
#define GW_PRIO_LOW  1
#define GW_PRIOS     2
#define GW_LOW_BATCH 8 /* low-priority callbacks between looks for new events */

#define GW_NAME_MAX   64
#define GW_DB_MAX     192
#define GW_IO_CHUNK   (64 * 1024) /* socket read size */
#define GW_MAX_PACKET (WIRE_MAX_PAYLOAD + WIRE_HDR_LEN)

struct gw_worker;
struct gw_client;
struct gw_server;

/* Latency histogram: bucket i counts latencies in [2^(i-1), 2^i) microseconds. */
#define GW_HIST_BUCKETS 32
#define GW_STATS_WINDOW 10 /* seconds of history for rates and percentiles */

enum gw_reject_reason {
	GW_REJECT_QUEUE_FULL = 0,
	GW_REJECT_QUEUE_TIMEOUT,
	GW_REJECT_MAX_CONNECTIONS,
	GW_REJECT_MAX_PINNED, /* a statement that would hold a connection, at the cap */
	GW_REJECT__COUNT,
};

struct gw_account_window {
	uint64_t second; /* the wall second this slot describes */
	uint64_t queries;
	uint64_t backend_ns;
	uint32_t hist[GW_HIST_BUCKETS];
};

/* The counters one worker keeps for one account (relaxed atomics: one writer). */
struct gw_account_tstats {
	uint64_t queries_total;
	uint64_t backend_ns_total;
	uint64_t latency_ns_total;
	uint64_t hist_total[GW_HIST_BUCKETS]; /* latency since start */
	struct gw_account_window win[GW_STATS_WINDOW];
};

/*
 * The credentials a client proved at login (issue 11): a copy of its account's stage1
 * taken, with the account's cred_gen, under the same lock as the check. The client's
 * backend connections authenticate with these, never with whatever the account holds
 * later, so that a client runs statements only on connections authenticated with what
 * it proved.
 */
struct gw_cred {
	uint8_t stage1[20]; /* SHA1(password); wiped when the client is freed */
	bool has_password;
	uint64_t gen; /* the account's cred_gen when stage1 was copied */
};

/*
 * A schema a login's check found usable for an account (issue 12, symptom 8): later logins
 * naming it are answered at once until until_ns. Bounded in time so that a schema dropped
 * (or a grant revoked) since is checked, and refused, again soon.
 */
#define GW_DBS_SEEN       8
#define GW_DB_SEEN_TTL_NS (1000u * 1000000u)
struct gw_db_seen {
	char name[GW_DB_MAX + 1];
	uint64_t until_ns; /* 0: empty slot */
};

/*
 * An account: a login and its rules. Long-lived: created when the rules first mention
 * it, kept (marked dead) after deletion so that clients still holding it stay valid.
 * Fields below `rules` are guarded by gw.sched_lock.
 */
struct gw_account {
	int64_t id; /* the store's row id */
	char name[GW_NAME_MAX + 1];
	uint8_t stage1[20]; /* SHA1(password) */
	bool has_password;
	uint64_t cred_gen;        /* bumped whenever stage1 or has_password changes (issue 11):
	                           * a backend connection authenticated under another value
	                           * is not on the account's current credentials */
	bool dead;                /* deleted: no new logins (written under sched_lock,
	                           * __atomic: the intake reads it without) */
	uint64_t seen_gen;        /* the last gw_accounts_load that found it (sched_lock) */
	uint32_t max_connections; /* 0 = none */
	struct qos_limits limits; /* what qos enforces */
	struct qos_account *qa;   /* owned reference */
	uint32_t connections;     /* client connections now */
	uint32_t pinned;          /* clients pinned to a server now */
	uint32_t holding;         /* clients holding a server between statements (pinned
	                           * or in a transaction), or about to (pins.h) */
	uint32_t max_pinned;      /* rule: cap on holding; 0 = automatic (pins.h) */
	uint64_t hold_full_pass;  /* the grant pass that found it at its cap (under sched_lock) */
	uint32_t pinned_idle_timeout_ms; /* rule: a holding client idle this long loses its
	                                  * server and its session; 0 = never */
	struct gw_server *held;          /* list (hold_next) of servers HELD for this account's
	                                  * next statements (under sched_lock) */
	uint32_t unqueued_active;        /* its statements running without having queued (a held
	                                  * or a spare server) */
	uint64_t rejected_total;
	uint64_t rejected[GW_REJECT__COUNT]; /* by reason */
	struct gw_account_tstats *ts;        /* owned: one block per worker, written by that
	                                      * worker only, without locks; summed on read */
	struct gw_account *next;             /* in gw.accounts */

	/* Schemas its logins found usable lately (under sched_lock; issue 12). */
	struct gw_db_seen dbs_seen[GW_DBS_SEEN];
};

/* Client states. X-macro so that the enum and its names cannot drift. */
#define GW_CLIENT_STATES(X)                                                                        \
	X(GW_CL_HANDSHAKE)   /* greeting sent, waiting for the handshake response */               \
	X(GW_CL_AUTH_SWITCH) /* AuthSwitchRequest sent, waiting for the answer */                  \
	X(GW_CL_IDLE)        /* logged in, waiting for a command */                                \
	X(GW_CL_HOLD_WAIT)   /* a command that would hold a server waits for room under its        \
	                      * account's max_pinned (pins.h; gw.hold_waiters) */                  \
	X(GW_CL_QUEUED)      /* a command is waiting in qos for a backend */                       \
	X(GW_CL_RUNNING)     /* bound to a server: command forwarded, response streaming */        \
	X(GW_CL_CHANGE_USER) /* COM_CHANGE_USER: AuthSwitchRequest sent */                         \
	X(GW_CL_AUTH_DELAY)  /* login decided; the answer waits out its address's failed-login     \
	                      * delay (hosts.h), input is discarded */                             \
	X(GW_CL_CLOSED)      /* parked, freed after the loop turn */

#define GW_X_ENUM(name) name,
#define GW_X_NAME(name) #name,
enum gw_client_state { GW_CLIENT_STATES(GW_X_ENUM) GW_CL__COUNT };

#define GW_SERVER_STATES(X)                                                                        \
	X(GW_SV_CONNECTING) /* TCP connect in progress */                                          \
	X(GW_SV_LOGIN)      /* handshake / auth in progress */                                     \
	X(GW_SV_IDLE)       /* logged in, in the pool's idle list */                               \
	X(GW_SV_HELD)       /* logged in, kept a moment for its account's next statement */        \
	X(GW_SV_ASSIGNED)   /* given to a client, on its way to the client's worker */             \
	X(GW_SV_PREPARE)    /* bringing identity / schema in line with the client */               \
	X(GW_SV_ACTIVE)     /* running the client's command */                                     \
	X(GW_SV_DRAIN)      /* the client left mid-response: reading the rest away */              \
	X(GW_SV_KILLER)     /* sending KILL QUERY for a DRAIN connection's statement, as its       \
	                     * account; back to the pool when answered */                          \
	X(GW_SV_CAPTURE)    /* the client's command is done: reading back its user variables       \
	                     * and LAST_INSERT_ID() before the connection goes (uvars.h) */        \
	X(GW_SV_CLOSED)     /* closed, slot free */

enum gw_server_state { GW_SERVER_STATES(GW_X_ENUM) GW_SV__COUNT };

/* What the server is doing while PREPARE-ing for its client. */
enum gw_prep_step {
	GW_PREP_NONE = 0,
	GW_PREP_CHANGE_USER,      /* COM_CHANGE_USER sent */
	GW_PREP_CHANGE_USER_AUTH, /* answered its AuthSwitchRequest */
	GW_PREP_INIT_DB,          /* COM_INIT_DB sent */
	GW_PREP_SET,              /* SET SESSION (tracking, variables) sent */
	GW_PREP_SET_OPTION,       /* COM_SET_OPTION (multi-statements on/off) sent */
	GW_PREP_CLEAR,            /* a DO that empties the diagnostics area another
	                           * session's statement left, for a SHOW WARNINGS (issue 12) */
	GW_PREP_STMT_DB,          /* COM_INIT_DB into or out of a statement's schema */
	GW_PREP_STMT,             /* COM_STMT_PREPARE of the client's statement */
};
/* COM_CHANGE_USER, COM_INIT_DB, COM_SET_OPTION, SET, DO, and a statement's prepare with
 * the COM_INIT_DBs around it */
#define GW_PREP_MAX 8

/*
 * The capability bits that change what a server does for a client and that nothing but
 * a new connection can change: a server only serves clients of its own class (another
 * class's client reopens it). The rest is handled per statement: multi-statements are
 * switched with COM_SET_OPTION; LOCAL INFILE, multi-results and PS multi-results are
 * always on towards the backend, and sluice refuses a LOCAL INFILE request for a client
 * that did not allow it (ERR 1148, as MySQL would).
 */
#define GW_CAPS_CLASS_MASK (CLIENT_FOUND_ROWS | CLIENT_DEPRECATE_EOF | CLIENT_IGNORE_SPACE)

struct gw_server {
	uint32_t id;                /* slot index in the pool */
	enum gw_server_state state; /* written only by server.c's server_store_state(), read
	                             * only by gw_server_state(): atomic, since other
	                             * threads read it (the pool scans, KILL) */
	int fd;
	struct gw_worker *worker;    /* weak: the worker whose base holds ev */
	struct event *ev;            /* owned: persistent EV_READ on worker->base */
	struct event *wev;           /* owned: persistent EV_WRITE, added while out
	                              * has bytes the socket did not take */
	struct event *hold_ev;       /* owned: ends a HELD spell (on the base of the worker
	                              * that first connected it; state is re-checked under
	                              * sched_lock, so it need not move with ev) */
	bool may_hold;               /* the next release ends a client's statement */
	uint64_t held_until_ns;      /* while HELD */
	struct gw_server *hold_next; /* in its account's held list */
	struct gw_client *client;    /* weak, cleared by gw_unlink(): ASSIGNED..DRAIN */
	struct gw_buf in;            /* response bytes not yet forwarded */
	struct gw_buf out;           /* bytes to send to the backend */
	size_t scan;                 /* in: bytes [in.start, scan) parsed, forwardable */
	size_t skip;                 /* bytes of a streamed packet still to pass */
	bool continued;              /* the last packet was 0xffffff long */
	uint8_t seq_delta;           /* the running command reached the server in this many
	                              * packets more than the client sent: the answer's
	                              * sequence ids are lowered by it for the client */
	uint8_t last_seq;            /* sequence id of the last packet read */
	struct wire_resp resp;       /* tracker for the running command */
	bool busy;                   /* an answer is still coming (resp not DONE): written by
	                              * the worker that holds the server, read atomically by
	                              * the drain check (gw_pool_quiet) from the main thread */
	/* In PREPARE: the steps sent in one write, answered in order; prep_q[prep_i]
	 * is the one whose answer comes next. */
	enum gw_prep_step prep_q[GW_PREP_MAX];
	uint8_t prep_n, prep_i;
	uint32_t prep_stmt_id;      /* GW_PREP_STMT: the client's id of the statement */
	uint32_t prep_stmt_backend; /* ... the backend's id, once its answer began */
	uint32_t prep_stmt_left;    /* ... packets of the answer still to come */
	struct gw_sstmts stmts;     /* statements prepared on it (stmt.h) */
	bool prep_resp_first;       /* a client's COM_STMT_PREPARE runs: its answer's first
	                             * packet is still to come */
	uint8_t salt[20];           /* from the backend's handshake */
	uint32_t caps;              /* capabilities agreed with the backend */
	uint32_t ext_caps;          /* MariaDB's extended ones agreed (wire.h): extended
	                             * metadata whenever the backend has it (issue 12) */
	uint32_t backend_conn_id;   /* the backend's thread id */
	struct gw_account *account; /* weak (accounts live forever): identity now */
	uint64_t cred_gen;          /* the gw_cred.gen its login or last COM_CHANGE_USER
	                             * authenticated with; valid while account is set */
	char db[GW_DB_MAX + 1];     /* schema now ("" = none) */
	uint8_t charset;            /* collation id now */
	uint32_t caps_class;        /* client capability bits it was opened with */
	struct gw_vars vars;        /* session variables set on it now */
	struct gw_vars uvars;       /* user variables set on it, as far as sluice knows */
	uint64_t uvars_unlisted;    /* the client whose variables were read back without the
	                             * list of the rest (after warnings): what a function of
	                             * its set may be on it, so another gets a fresh session
	                             * first (sync.c) */
	bool uvars_foreign;         /* names of user variables another session set (NULL now)
	                             * may be on it: information_schema.USER_VARIABLES would
	                             * list them */
	uint64_t lid_client;        /* the client whose LAST_INSERT_ID() the backend holds
	                             * (the last to change it there), 0: none */
	struct gw_capture cap;      /* CAPTURE: the answer read so far */
	bool tracking;              /* session tracking switched on (SET done) */
	uint64_t started_ns;        /* when the running command was sent */
	uint64_t connect_start_ns;
	bool infile_refused; /* ACTIVE: a LOCAL INFILE request was refused for
	                      * the client; its final OK/ERR becomes ERR 1148 */
	uint8_t infile_seq;  /* the refused request's sequence id */
	bool kill_hold;      /* a KILL QUERY for its statement is on its way:
	                      * close instead of reuse (under sched_lock) */
	bool paused;         /* not reading: the client is backed up */
	/* KILLER: the statement it stops (server_kill_for) */
	uint32_t kill_tid;               /* the backend thread to KILL QUERY */
	struct gw_account *kill_account; /* weak: that thread's account */
	struct gw_cred kill_cred;        /* the credentials to switch to it with */
	uint8_t kill_step;               /* 0: switching user, 1: auth answered, 2: KILL sent */
	struct gw_server *next;          /* in the pool's idle list */
	struct gw_server *prev;
};

/* A server's state, from any thread: some readers hold sched_lock, some (the pool trim,
 * the KILL registry) do not, so every access is atomic. */
static inline enum gw_server_state gw_server_state(const struct gw_server *s)
{
	return __atomic_load_n(&s->state, __ATOMIC_ACQUIRE);
}

/* A message to a worker from another thread. */
enum gw_msg_kind {
	GW_MSG_RUN = 0, /* run client's request on server (already bound) */
	GW_MSG_KILL,    /* KILL [QUERY] of the worker's client kill_id (heap message) */
	GW_MSG_EXPIRE,  /* client's request timed out in the queue */
	GW_MSG_FAIL,    /* client's request cannot run: backend down */
	GW_MSG_HOLD,    /* HOLD_WAIT client: room under max_pinned was taken for it */
};

struct gw_msg {
	enum gw_msg_kind kind;
	struct gw_client *client; /* weak: kept alive by its QUEUED state */
	struct gw_server *server; /* RUN */
	struct gw_worker *to;     /* KILL: the target's worker */
	uint32_t kill_id;         /* KILL: the target client's id */
	bool kill_query_only;     /* KILL QUERY (else the connection too) */
	struct gw_msg *next;
};

struct gw_client {
	uint64_t id;                /* C-<id> in logs */
	enum gw_client_state state; /* written only by gw_client_set_state() */
	int fd;
	struct gw_worker *worker;   /* borrowed: owner, for life */
	struct event *ev;           /* owned: persistent EV_READ */
	struct event *wev;          /* owned: persistent EV_WRITE, added while out
	                             * holds bytes the socket did not take */
	struct event *more_ev;      /* owned: made active when a wakeup's packet budget ran
	                             * out with input left (pipelined commands) */
	bool read_paused;           /* ev deleted: too much unprocessed input */
	bool low_prio;              /* ev at GW_PRIO_LOW: its account is backlogged */
	bool compress;              /* CLIENT_COMPRESS in force (after login) */
	struct gw_vars vars;        /* session variables the client SET */
	struct gw_vars uvars;       /* its user variables, as literals (uvars.h) */
	struct sql_uvars *uv_dirty; /* owned, NULL until needed: user variables its statements
	                             * may have assigned since the last capture */
	uint64_t last_insert_id;    /* what LAST_INSERT_ID() returns: from the OK packets,
	                             * exact once captured */
	bool lid_used;              /* it named LAST_INSERT_ID in a statement: captured after
	                             * each change from then on */
	bool lid_dirty;             /* a statement changed it since the last capture */
	bool settled;               /* its command's answer is booked, a capture runs */
	bool settle_pin;            /* ... and the command pins */
	bool diag_want;             /* ... and its answer left warnings or was an error: the
	                             * diagnostics area is worth keeping (issue 12) */
	bool diag_stay;             /* its running statement runs where the diagnostics area
	                             * was kept for it and reads it or uses no table (its
	                             * answer counts only its own warnings): kept again */
	bool diag_cleared;          /* its running statement's connection was given an empty
	                             * diagnostics area (server.c, GW_PREP_CLEAR) */
	bool diag_kept;             /* holds its server between statements for its next one,
	                             * which may read the diagnostics area (SHOW WARNINGS):
	                             * until that arrives or --diag-keep-ms passes */
	unsigned sql_flags;         /* sql_scan() of the running COM_QUERY */
	/* CONNECTION_ID() and ROW_COUNT() calls of the running COM_QUERY (or
	 * COM_STMT_PREPARE), rewritten to the session's values (sqlscan.h): the column
	 * definitions of its answer are named back (gw_subst_coldef) */
	struct sql_sub subs[4];
	uint8_t nsubs;
	int64_t row_count;         /* what ROW_COUNT() returns: the rows its last statement changed,
	                            * -1 after a result set or an error (issue 12) */
	bool status_compress;      /* the running COM_QUERY of a compressed client asks for
	                            * status variables: its Compression row says ON (issue 12) */
	bool pin_pending;          /* pin when the running command succeeds */
	bool kill_backend;         /* its running command is a KILL sent on as KILL QUERY
	                            * <backend thread id> (subst_pkt) */
	bool kill_subst;           /* the running execute is a prepared KILL, sent as the
	                            * KILL QUERY <backend id> in subst_pkt */
	bool resumed;              /* its command waited in HOLD_WAIT and goes on: what its
	                            * intake did (CONNECTION_ID() rewrite, KILL) is done */
	struct wire_buf subst_pkt; /* what goes to the server instead of the client's
	                            * command: KILL QUERY <backend id> for its KILL, a
	                            * COM_STMT_* with the backend's statement id */
	struct gw_stmts stmts;     /* its prepared statements (stmt.h) */
	char *prep_sql;            /* owned: the SQL of its COM_STMT_PREPARE running */
	uint32_t prep_sql_len;
	uint8_t zseq;               /* compressed-frame sequence id, next to send */
	struct gw_buf zraw;         /* compress: frames received, not unwrapped */
	struct gw_z_in zin;         /* compress: where unwrapping zraw stopped */
	struct gw_buf in;           /* bytes received, not yet consumed */
	struct gw_buf out;          /* bytes to send that did not fit */
	struct gw_account *account; /* borrowed (accounts live forever): after auth */
	struct gw_cred cred;        /* what it proved at login: its backend connections
	                             * authenticate with this (after auth) */
	struct gw_server *server;   /* weak, cleared by gw_unlink(): RUNNING, pinned */
	struct qos_req req;         /* the queued or running command */
	struct gw_msg msg;          /* the one message in flight to this client */
	bool zombie;                /* closed while a message is in flight */
	bool parked;                /* on its worker's closed list until the pass ends */
	bool req_queued;            /* req is in qos (QUEUED) */
	bool req_running;           /* req was picked: complete it */
	bool unqueued;              /* running without having queued, on a server HELD for
	                             * its account or a spare one above --max-active:
	                             * counted in account->unqueued_active */
	uint32_t caps;              /* negotiated with the client */
	uint32_t ext_caps;          /* MariaDB's extended ones negotiated (wire.h) */
	uint8_t charset;
	char db[GW_DB_MAX + 1];         /* current schema */
	char pending_db[GW_DB_MAX + 1]; /* COM_INIT_DB / USE in flight */
	bool db_change_pending;
	char addr[64];                   /* peer, for logs */
	struct gw_host_key host;         /* peer address: its entry in gw.hosts */
	bool prelogin;                   /* counted in gw.hosts as not logged in (from accept
	                                  * until it logs in or closes) */
	uint64_t auth_answer_ns;         /* AUTH_DELAY: when the answer goes out */
	struct gw_account *auth_account; /* AUTH_DELAY: borrowed: the account it proved;
	                                  * NULL: refused */
	char *auth_deny_msg;             /* AUTH_DELAY, refused: owned: the ERR 1045 text */
	uint8_t auth_seq;                /* AUTH_DELAY, login_check: sequence id of the answer */
	bool login_check;                /* logged in, but the answer (OK or the backend's ERR)
	                                  * waits for the schema it named to be checked on a
	                                  * backend connection (QUEUED..RUNNING; issue 12) */
	bool login_db_verified;          /* login_check: a step of the server's PREPARE (login,
	                                  * COM_CHANGE_USER, COM_INIT_DB) accepted c->db */
	struct gw_cred auth_cred;        /* AUTH_DELAY, proved: what it proved with */
	bool auth_switch;                /* AUTH_DELAY: the answer is an AuthSwitchRequest
	                                  * (COM_CHANGE_USER's second chance) */
	uint8_t salt[20];                /* the scramble we sent */
	bool pinned;                     /* session state lives on its server */
	bool holds;                      /* counted in account->holding: holds its server between
	                                  * statements, or runs a statement expected to (under
	                                  * sched_lock) */
	uint64_t idle_since_ns;          /* IDLE: when its last statement ended */
	bool hold_waiting;               /* in gw.hold_waiters (under sched_lock) */
	struct gw_client *hold_next;     /* in gw.hold_waiters */
	struct gw_client *hold_prev;
	const char *ended;  /* a holding session ended by sluice (pinned idle
	                     * timeout): its next command gets this as ERR 1927 */
	bool in_trans;      /* the server said SERVER_STATUS_IN_TRANS */
	bool infile;        /* streaming a LOCAL INFILE to the server */
	size_t cmd_left;    /* bytes of the current command still to forward */
	bool cmd_continued; /* the last command packet was 0xffffff long */
	/* An execute of several packets that sluice made longer (the parameter types put
	 * back): the bytes pushed past the first packet, carried into the next one, and
	 * the next sequence id toward the server (client_forward_shifted). */
	bool cont_shift;
	uint8_t cont_seq;
	struct wire_buf cont_carry;
	uint8_t cmd;     /* command byte of the running request */
	uint16_t status; /* server status flags last seen */
	uint64_t connected_ns;
	uint64_t enqueued_ns;
	uint64_t bytes_in, bytes_out;
	struct gw_client *next; /* in the worker's list of its state */
	struct gw_client *prev;

	/* COM_CHANGE_USER until answered: the account before (borrowed), its credentials
	 * and schema. A change refused for its schema brings them back, as MariaDB keeps
	 * the session of a refused change (issue 12). */
	struct gw_account *cu_old_account;
	struct gw_cred cu_old_cred;
	char cu_old_db[GW_DB_MAX + 1];
};

struct gw_worker {
	int id;
	pthread_t thread;
	struct event_base *base; /* owned */
	int listen_fd;
	struct event *accept_ev;       /* owned */
	struct event *accept_retry_ev; /* owned: re-arms accept after EMFILE */
	int notify_fd;                 /* eventfd: messages waiting */
	struct event *notify_ev;       /* owned */
	struct event *tick_ev;         /* owned: janitor, every 100 ms */
	struct event *after_ev;        /* owned: the end of a loop pass (worker_after_pass) */
	bool after_armed;              /* after_ev is active, or due as a timer */
	bool dispatch_due;             /* a dispatch was asked for in this pass */
	bool dispatch_asked;           /* __atomic: asked from outside the workers */
	bool stop;                     /* __atomic: gw_stop() asked the loop to end */
	pthread_mutex_t inbox_lock;
	struct gw_msg *inbox;      /* owned list, LIFO; reversed on drain */
	struct gw_client *clients; /* every live client of this worker */
	struct gw_client *closed;  /* parked, freed after the loop turn */
	uint32_t nclients;
	uint64_t next_client_id;
};

struct gw_config {
	char listen_host[256];
	uint16_t listen_port;
	char backend_name[GW_NAME_MAX + 1]; /* its row in the rules store */
	char backend_host[256];
	uint16_t backend_port;
	uint32_t pool_size;
	uint32_t threads;
	uint32_t handshake_timeout_ms;
	char server_version[64];        /* what clients see in the greeting */
	bool no_replay;                 /* testing only: no variable replay, no pins */
	uint32_t anticipate_us;         /* how long a light account's server is HELD; 0 = never */
	bool exact_lid;                 /* read LAST_INSERT_ID() back after every statement that
	                                 * reports an insert id, for every session */
	uint32_t diag_keep_ms;          /* how long a session keeps the connection whose
	                                 * statement left warnings or an error, for its
	                                 * SHOW WARNINGS; 0 = never (issue 12) */
	uint32_t max_active;            /* queued statements running at once; 0 = pool_size */
	uint32_t max_clients;           /* client connections at once; then ERR 1040 */
	uint32_t max_prelogin_per_host; /* connections of one address not logged in; then
	                                 * ERR 1040 (0 = no cap) */
	uint32_t auth_fail_threshold;   /* failed logins of an address answered at once */
	uint32_t auth_delay_max_ms;     /* the longest a login answer waits (0 = never) */
	uint32_t reserve_pool;          /* connections beyond the pool (server.c's reserve);
	                                 * GW_RESERVE_AUTO: an eighth of the pool, at least 1 */

	/* What the backend's greeting said at start (main.c): MariaDB (no CLIENT_MYSQL) and
	 * its extended capabilities 32-63 (wire.h); clients are offered those sluice passes
	 * on only when the backend has them (issue 12). */
	bool backend_mariadb;
	uint32_t backend_ext_caps;
};

#define GW_RESERVE_AUTO UINT32_MAX

/* --anticipate-ms by default: how long a light account's server waits for it. */
#define GW_ANTICIPATE_US 5000
#define GW_DIAG_KEEP_MS  500

/* The process-wide gateway. */
struct gw {
	struct gw_config cfg;
	struct gw_worker *workers; /* owned array of cfg.threads */
	pthread_mutex_t sched_lock;
	struct qos *qos;           /* owned; under sched_lock */
	struct gw_server *servers; /* owned array of pool_cap slots; at most
	                            * cfg.pool_size of them live (under sched_lock) */
	uint32_t pool_cap;
	uint32_t pool_hwm;      /* slots [0, pool_hwm) were ever used */
	struct gw_server *idle; /* idle list (under sched_lock) */
	uint32_t nidle;
	uint32_t nlive;                 /* servers not CLOSED */
	uint32_t nheld;                 /* servers HELD */
	uint64_t account_switches;      /* COM_CHANGE_USER sent to hand a server over */
	uint64_t held_hits;             /* statements that took a server HELD for them */
	uint32_t holding;               /* sum of the accounts' holding (under sched_lock) */
	uint32_t reserved;              /* sum of the live accounts' reservations (under
	                                 * sched_lock; set by gw_accounts_load) */
	struct gw_client *hold_waiters; /* HOLD_WAIT clients, oldest first, linked by
	                                 * hold_next (under sched_lock) */
	struct gw_client *hold_waiters_tail;
	bool hold_room;              /* a holding session let go (or rules changed) since the last
	                              * grant: gw_client_hold_grant_locked() has work */
	uint64_t hold_pass;          /* that function's passes, numbered */
	uint64_t spare_runs;         /* statements that took a spare server (--max-active) */
	uint64_t reserve_runs;       /* statements that took a reserve connection */
	uint64_t freed_ns;           /* when a connection last became free (idle, or its
	                              * slot closed): the pool is stuck when long ago */
	struct gw_account *accounts; /* list, under sched_lock */
	uint64_t accounts_gen;       /* gw_accounts_load calls so far (sched_lock) */
	struct gw_hosts *hosts;      /* owned: per-address pre-login counts and failed logins
	                              * (its own lock) */
	uint64_t down_until_ns;      /* after a connect failure: fail fast until then */
	char backend_error[256];     /* last connect/login error, "" when fine */
	uint64_t connect_failures;
	uint64_t clients_now; /* __atomic: every worker */
	bool stopping;        /* main thread only: a second signal stops at once */
	uint64_t started_ns;
	struct sockaddr_storage backend_sa; /* resolved --backend */
	socklen_t backend_salen;
};

extern struct gw gw;

#endif
