/*
 * client.h - what the client side's files share (client.c: a client's life, input and
 * output, commands and their completion; login.c: the handshake, authentication and
 * COM_CHANGE_USER). Not for the rest of the gateway, which uses engine.h.
 */
#ifndef SLUICE_CLIENT_H
#define SLUICE_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gateway/gw.h"
#include "proto/wire.h"

#define CLIENT_OUT_HIGH    (1u << 20) /* pause the server above this much unsent output */
#define CLIENT_IN_HIGH     (GW_MAX_PACKET + GW_IO_CHUNK) /* stop reading above this */
#define GW_AUTH_PACKET_MAX 65536 /* longest handshake or auth packet we accept */
#define GW_BACKLOG_DEEP    16    /* queued requests that make an account's client reads wait */

/* What sluice offers clients: what MariaDB offers, minus TLS and compression. */
#define GW_SERVER_CAPS                                                                             \
	(CLIENT_LONG_PASSWORD | CLIENT_FOUND_ROWS | CLIENT_LONG_FLAG | CLIENT_CONNECT_WITH_DB |    \
	 CLIENT_NO_SCHEMA | CLIENT_ODBC | CLIENT_LOCAL_FILES | CLIENT_IGNORE_SPACE |               \
	 CLIENT_PROTOCOL_41 | CLIENT_INTERACTIVE | CLIENT_IGNORE_SIGPIPE | CLIENT_TRANSACTIONS |   \
	 CLIENT_RESERVED | CLIENT_SECURE_CONNECTION | CLIENT_MULTI_STATEMENTS |                    \
	 CLIENT_MULTI_RESULTS | CLIENT_PS_MULTI_RESULTS | CLIENT_PLUGIN_AUTH |                     \
	 CLIENT_CONNECT_ATTRS | CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA | CLIENT_SESSION_TRACK |     \
	 CLIENT_DEPRECATE_EOF | CLIENT_COMPRESS)

/* MariaDB's capabilities 32-63 sluice offers clients, when the backend has them: bulk
 * executes (COM_STMT_BULK_EXECUTE) and the extended column metadata (JSON's format,
 * INET6's and UUID's type names; server.c converts column definitions for clients
 * without it). */
#define GW_SERVER_EXT_CAPS (MARIADB_CLIENT_STMT_BULK_OPERATIONS | MARIADB_CLIENT_EXTENDED_METADATA)

/* ---- client.c ---- */
void client_set_state(struct gw_client *c, enum gw_client_state st);
/* Counted as not logged in no more (gw.hosts). */
void client_prelogin_done(struct gw_client *c);
bool client_send_wbuf(struct gw_client *c, struct wire_buf *b);
void client_send_err(struct gw_client *c, uint8_t seq, uint16_t code, const char *state,
                     const char *msg);
void client_send_ok(struct gw_client *c, uint8_t seq);
void client_close(struct gw_client *c, const char *reason);
/* The whole packet at the head of c's input: its payload, length and sequence id; false
 * while it is not all in. */
bool client_peek_packet(struct gw_client *c, const uint8_t **payload, uint32_t *len, uint8_t *seq);
void client_consume(struct gw_client *c, size_t n);
/* Bytes of input received (unwrapped or not) and not yet handled. */
size_t client_in_held(const struct gw_client *c);
/* Handle what the input holds, as far as the state allows. */
void client_process(struct gw_client *c);
/* Read again once the input has room (after read_paused). */
void client_resume_reading(struct gw_client *c);
/* Free a parked client (after its loop turn, or when its message arrived). */
void client_free(struct gw_client *c);
/* A new session (COM_CHANGE_USER, COM_RESET_CONNECTION): no user variables, and
 * LAST_INSERT_ID() is 0 again. */
void client_forget_carried(struct gw_client *c);
/* Leave a held server behind (its state belongs to the old session). */
void client_drop_server(struct gw_client *c);
/* Would c's command, should it succeed, leave c holding its server? */
bool client_expects_hold(const struct gw_client *c, uint8_t cmd);
/* What a statement's scan means for what c carries from connection to connection (the
 * user variables it may assign, LAST_INSERT_ID()); returns the flags to run it with. */
unsigned client_note_carried(struct gw_client *c, unsigned flags, const struct sql_uvars *names);
/* Give back the server c kept for its diagnostics area (diag_kept). */
void client_diag_release(struct gw_client *c);
/* Under sched_lock: room under the account's max_pinned for c to hold a server (true if
 * it holds one already); wait for it; stop waiting (false: its grant is on its way). */
bool client_hold_take_locked(struct gw_client *c);
void client_hold_wait_locked(struct gw_client *c);
bool client_hold_unwait_locked(struct gw_client *c);
/* The scan of a COM_QUERY's text, noted (client_note_carried). */
unsigned client_scan_query(struct gw_client *c, const uint8_t *q, size_t n);

/* ---- intake.c ---- */
/* Start the head command: locally, on the held server, or through qos. */
void client_command(struct gw_client *c, const uint8_t *p, uint32_t len, uint8_t seq);
/* The KILL of id, for the command of len bytes at the head of c's input: true when it
 * must go on to a backend as subst_pkt, false when answered here. */
bool client_kill_id(struct gw_client *c, uint32_t id, bool query_only, uint32_t len);
/* A KILL of one of this worker's clients, from another client (GW_MSG_KILL). */
void client_on_kill(struct gw_msg *m);

/* ---- route.c ---- */
/* COM_STMT_PREPARE: keep its SQL for the statement's record. false: answered here. */
bool client_stmt_prepare_begin(struct gw_client *c, const uint8_t *p, uint32_t len);
/* COM_STMT_EXECUTE, _BULK_EXECUTE, _SEND_LONG_DATA, _RESET, _FETCH at the head of the
 * input: the statement known, what its execute will do noted. false: answered here. */
bool client_stmt_intake(struct gw_client *c, const uint8_t *p, uint32_t len, bool resumed);
/* A packet of an execute that sluice made longer, on to s with the bytes it pushed on
 * carried into it. */
bool client_forward_shifted(struct gw_client *c, struct gw_server *s, const uint8_t *p,
                            uint32_t len, uint8_t seq);

/* ---- login.c ---- */
/* The handshake response (HANDSHAKE state). */
void client_handshake(struct gw_client *c, const uint8_t *p, uint32_t len, uint8_t seq);
/* The answer to an AuthSwitchRequest (AUTH_SWITCH state). */
void client_auth_switch_answer(struct gw_client *c, const uint8_t *p, uint32_t len, uint8_t seq);
/* A login whose answer waited out its address's delay (AUTH_DELAY): answer it now. */
void client_auth_finish(struct gw_client *c);
void client_change_user(struct gw_client *c, const uint8_t *p, uint32_t len);
/* A login (or change) refused for its schema: ERR code, and the session as it was before
 * a COM_CHANGE_USER, or closed after a login. */
void client_login_refuse(struct gw_client *c, uint16_t code, const char *sqlstate, const char *msg);

#endif
