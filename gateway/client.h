/*
 * client.h - what client.c offers the other gateway files (a client's life and bytes).
 */
#ifndef SLUICE_GW_CLIENT_H
#define SLUICE_GW_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

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

void gw_client_accept(struct gw_worker *w, int fd, const struct sockaddr *sa);
void gw_worker_reclaim(struct gw_worker *w);

/* Send an ERR to the client as the response to its current command. */
void gw_client_command_error(struct gw_client *c, uint8_t seq, uint16_t code, const char *state,
                             const char *msg);

/* Server bytes [p, p+n) go to the client. false when the client is gone or failed. */
bool gw_client_forward(struct gw_client *c, const uint8_t *p, size_t n);

/* The same for two pieces, in one send. */
bool gw_client_forward2(struct gw_client *c, const uint8_t *p1, size_t n1, const uint8_t *p2,
                        size_t n2);

const char *gw_client_state_name(enum gw_client_state st);
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

/* Leave a held server behind (its state belongs to the old session). */
void client_drop_server(struct gw_client *c);

/* Give back the server c kept for its diagnostics area (diag_kept). */
void client_diag_release(struct gw_client *c);

#endif
