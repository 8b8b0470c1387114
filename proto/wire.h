/*
 * wire.h - the MySQL client/server protocol codec. Pure: bytes in, structs out, and
 * packet builders; no sockets, no allocation except inside struct wire_buf.
 *
 * Owns: packet framing (4-byte header: 3-byte little-endian payload length, 1-byte
 * sequence id; a payload of exactly 0xffffff bytes continues in the next packet), the
 * handshake packets, OK/ERR/EOF, and the response tracker that tells where a command's
 * response ends. Every parser takes (const uint8_t *, size_t) and never reads past it.
 */
#ifndef SLUICE_WIRE_H
#define SLUICE_WIRE_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define WIRE_HDR_LEN     4
#define WIRE_MAX_PAYLOAD 0xffffffu

/* Capability flags (protocol docs, "Capabilities Flags"). */
#define CLIENT_LONG_PASSWORD                  0x00000001u
#define CLIENT_FOUND_ROWS                     0x00000002u
#define CLIENT_LONG_FLAG                      0x00000004u
#define CLIENT_CONNECT_WITH_DB                0x00000008u
#define CLIENT_NO_SCHEMA                      0x00000010u
#define CLIENT_COMPRESS                       0x00000020u
#define CLIENT_ODBC                           0x00000040u
#define CLIENT_LOCAL_FILES                    0x00000080u
#define CLIENT_IGNORE_SPACE                   0x00000100u
#define CLIENT_PROTOCOL_41                    0x00000200u
#define CLIENT_INTERACTIVE                    0x00000400u
#define CLIENT_SSL                            0x00000800u
#define CLIENT_IGNORE_SIGPIPE                 0x00001000u
#define CLIENT_TRANSACTIONS                   0x00002000u
#define CLIENT_RESERVED                       0x00004000u
#define CLIENT_SECURE_CONNECTION              0x00008000u
#define CLIENT_MULTI_STATEMENTS               0x00010000u
#define CLIENT_MULTI_RESULTS                  0x00020000u
#define CLIENT_PS_MULTI_RESULTS               0x00040000u
#define CLIENT_PLUGIN_AUTH                    0x00080000u
#define CLIENT_CONNECT_ATTRS                  0x00100000u
#define CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA 0x00200000u
#define CLIENT_CAN_HANDLE_EXPIRED_PASSWORDS   0x00400000u
#define CLIENT_SESSION_TRACK                  0x00800000u
#define CLIENT_DEPRECATE_EOF                  0x01000000u
/* A MariaDB server leaves CLIENT_LONG_PASSWORD (which it calls CLIENT_MYSQL) out of its
 * greeting and sends capabilities 32 to 63 in the last 4 of its 10 reserved bytes; a
 * client answers them in the last 4 of the 23 reserved bytes of its handshake response.
 * These are those upper 32 bits (MARIADB_CLIENT_* >> 32). */
#define CLIENT_MYSQL                        CLIENT_LONG_PASSWORD
#define MARIADB_CLIENT_PROGRESS             0x00000001u
#define MARIADB_CLIENT_COM_MULTI            0x00000002u
#define MARIADB_CLIENT_STMT_BULK_OPERATIONS 0x00000004u /* COM_STMT_BULK_EXECUTE */
#define MARIADB_CLIENT_EXTENDED_METADATA                                                           \
	0x00000008u /* column definitions carry a                                                  \
	             * type name / format block */
#define MARIADB_CLIENT_CACHE_METADATA 0x00000010u

/* Server status flags. */
#define SERVER_STATUS_IN_TRANS             0x0001u
#define SERVER_STATUS_AUTOCOMMIT           0x0002u
#define SERVER_MORE_RESULTS_EXISTS         0x0008u
#define SERVER_STATUS_CURSOR_EXISTS        0x0040u
#define SERVER_STATUS_LAST_ROW_SENT        0x0080u
#define SERVER_STATUS_NO_BACKSLASH_ESCAPES 0x0200u
#define SERVER_STATUS_IN_TRANS_READONLY    0x2000u
#define SERVER_SESSION_STATE_CHANGED       0x4000u

/* Commands. */
enum wire_cmd {
	COM_SLEEP = 0x00,
	COM_QUIT = 0x01,
	COM_INIT_DB = 0x02,
	COM_QUERY = 0x03,
	COM_FIELD_LIST = 0x04,
	COM_CREATE_DB = 0x05,
	COM_DROP_DB = 0x06,
	COM_REFRESH = 0x07,
	COM_SHUTDOWN = 0x08,
	COM_STATISTICS = 0x09,
	COM_PROCESS_INFO = 0x0a,
	COM_CONNECT = 0x0b,
	COM_PROCESS_KILL = 0x0c,
	COM_DEBUG = 0x0d,
	COM_PING = 0x0e,
	COM_TIME = 0x0f,
	COM_DELAYED_INSERT = 0x10,
	COM_CHANGE_USER = 0x11,
	COM_BINLOG_DUMP = 0x12,
	COM_TABLE_DUMP = 0x13,
	COM_CONNECT_OUT = 0x14,
	COM_REGISTER_SLAVE = 0x15,
	COM_STMT_PREPARE = 0x16,
	COM_STMT_EXECUTE = 0x17,
	COM_STMT_SEND_LONG_DATA = 0x18,
	COM_STMT_CLOSE = 0x19,
	COM_STMT_RESET = 0x1a,
	COM_SET_OPTION = 0x1b,
	COM_STMT_FETCH = 0x1c,
	COM_DAEMON = 0x1d,
	COM_BINLOG_DUMP_GTID = 0x1e,
	COM_RESET_CONNECTION = 0x1f,
	COM_STMT_BULK_EXECUTE = 0xfa, /* MariaDB 10.2+: MARIADB_CLIENT_STMT_BULK_OPERATIONS */
};

/* Session-state change types inside an OK packet (CLIENT_SESSION_TRACK). */
#define SESSION_TRACK_SYSTEM_VARIABLES            0x00
#define SESSION_TRACK_SCHEMA                      0x01
#define SESSION_TRACK_STATE_CHANGE                0x02
#define SESSION_TRACK_GTIDS                       0x03
#define SESSION_TRACK_TRANSACTION_CHARACTERISTICS 0x04
#define SESSION_TRACK_TRANSACTION_STATE           0x05

static inline uint32_t wire_u24(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16;
}

static inline uint16_t wire_u16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static inline uint32_t wire_u32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* Overwrite 4 bytes at p with v, little-endian (a statement id in a packet). */
static inline void wire_put_u32_at(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

/* ---- reading: a bounded cursor whose getters fail instead of over-reading ---- */

struct wire_cur {
	const uint8_t *p; /* borrowed */
	size_t len;
	size_t off;
};

static inline struct wire_cur wire_cur_init(const uint8_t *p, size_t len)
{
	struct wire_cur c = { p, len, 0 };
	return c;
}

static inline size_t wire_cur_left(const struct wire_cur *c)
{
	return c->len - c->off;
}

bool wire_get_u8(struct wire_cur *c, uint8_t *v);
bool wire_get_u16(struct wire_cur *c, uint16_t *v);
bool wire_get_u24(struct wire_cur *c, uint32_t *v);
bool wire_get_u32(struct wire_cur *c, uint32_t *v);
bool wire_get_u64(struct wire_cur *c, uint64_t *v);
/* Length-encoded integer; 0xfb (NULL) fails unless is_null is non-NULL. */
bool wire_get_lenenc(struct wire_cur *c, uint64_t *v, bool *is_null);
bool wire_get_bytes(struct wire_cur *c, size_t n, const uint8_t **out);
/* NUL-terminated string; *out points into the buffer, *n excludes the NUL. */
bool wire_get_cstr(struct wire_cur *c, const char **out, size_t *n);
bool wire_get_lenenc_str(struct wire_cur *c, const uint8_t **out, size_t *n);
/* The rest of the packet. */
void wire_get_rest(struct wire_cur *c, const uint8_t **out, size_t *n);

/* ---- writing: a growable buffer with a sticky failure flag, checked once ---- */

struct wire_buf {
	uint8_t *data; /* owned */
	size_t len;
	size_t cap;
	bool failed; /* an allocation failed; everything after is dropped */
};

void wire_buf_init(struct wire_buf *b);
void wire_buf_free(struct wire_buf *b);
void wire_buf_reset(struct wire_buf *b);
bool wire_buf_reserve(struct wire_buf *b, size_t extra);
void wire_put_u8(struct wire_buf *b, uint8_t v);
void wire_put_u16(struct wire_buf *b, uint16_t v);
void wire_put_u24(struct wire_buf *b, uint32_t v);
void wire_put_u32(struct wire_buf *b, uint32_t v);
void wire_put_u64(struct wire_buf *b, uint64_t v);
void wire_put_lenenc(struct wire_buf *b, uint64_t v);
void wire_put_bytes(struct wire_buf *b, const void *p, size_t n);
void wire_put_cstr(struct wire_buf *b, const char *s); /* with its NUL */
void wire_put_lenenc_str(struct wire_buf *b, const void *p, size_t n);
/* Start a packet: reserves the header; returns its offset for wire_packet_end(). */
size_t wire_packet_begin(struct wire_buf *b, uint8_t seq);
/* Fill the header of the packet begun at `off`. Payloads of 0xffffff bytes or more
 * are split into several packets with consecutive sequence ids; returns the next
 * sequence id to use. */
uint8_t wire_packet_end(struct wire_buf *b, size_t off);

/* ---- handshake ---- */

struct wire_handshake {
	uint8_t protocol; /* 10 */
	char server_version[64];
	uint32_t conn_id;
	uint8_t scramble[20]; /* the 20-byte salt */
	uint32_t caps;
	uint32_t ext_caps; /* MariaDB's (MARIADB_CLIENT_*): only without CLIENT_MYSQL */
	uint8_t charset;
	uint16_t status;
	char auth_plugin[64];
};

bool wire_parse_handshake(const uint8_t *p, size_t n, struct wire_handshake *h);
void wire_build_handshake(struct wire_buf *b, uint8_t seq, const struct wire_handshake *h);

struct wire_handshake_resp {
	uint32_t caps;
	uint32_t ext_caps; /* MariaDB's (MARIADB_CLIENT_*): only without CLIENT_MYSQL */
	uint32_t max_packet;
	uint8_t charset;
	bool is_ssl_request; /* a 32-byte SSLRequest: the client wants TLS */
	char user[81];
	uint8_t auth[256];
	size_t auth_len;
	char db[193];
	char auth_plugin[64];
	const uint8_t *attrs; /* borrowed: connect attributes, raw (lenenc pairs) */
	size_t attrs_len;
};

bool wire_parse_handshake_resp(const uint8_t *p, size_t n, struct wire_handshake_resp *r);
void wire_build_handshake_resp(struct wire_buf *b, uint8_t seq,
                               const struct wire_handshake_resp *r);

/* COM_CHANGE_USER payload (after the command byte is included in p). */
struct wire_change_user {
	char user[81];
	uint8_t auth[256];
	size_t auth_len;
	char db[193];
	uint16_t charset;
	char auth_plugin[64];
};

bool wire_parse_change_user(const uint8_t *p, size_t n, uint32_t caps, struct wire_change_user *cu);
void wire_build_change_user(struct wire_buf *b, uint8_t seq, uint32_t caps,
                            const struct wire_change_user *cu);

/* ---- OK / ERR / EOF ---- */

struct wire_ok {
	uint64_t affected_rows;
	uint64_t last_insert_id;
	uint16_t status;
	uint16_t warnings;
	const uint8_t *info; /* borrowed */
	size_t info_len;
	const uint8_t *state; /* borrowed: session-state changes, when tracked */
	size_t state_len;
};

/* An OK packet (header 0x00, or 0xfe ending a result set under CLIENT_DEPRECATE_EOF). */
bool wire_parse_ok(const uint8_t *p, size_t n, uint32_t caps, struct wire_ok *ok);
void wire_build_ok(struct wire_buf *b, uint8_t seq, uint32_t caps, uint64_t affected,
                   uint64_t insert_id, uint16_t status, uint16_t warnings);
bool wire_parse_eof(const uint8_t *p, size_t n, uint16_t *warnings, uint16_t *status);
void wire_build_eof(struct wire_buf *b, uint8_t seq, uint16_t warnings, uint16_t status);

struct wire_err {
	uint16_t code;
	char sqlstate[6];
	const uint8_t *msg; /* borrowed */
	size_t msg_len;
};

bool wire_parse_err(const uint8_t *p, size_t n, struct wire_err *e);
void wire_build_err(struct wire_buf *b, uint8_t seq, uint16_t code, const char *sqlstate,
                    const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* ---- prepared statements ---- */

/* The answer to COM_STMT_PREPARE: its first packet (0x00, id, columns, parameters). */
struct wire_prepare_ok {
	uint32_t stmt_id;
	uint16_t ncols;
	uint16_t nparams;
};
bool wire_parse_prepare_ok(const uint8_t *p, size_t n, struct wire_prepare_ok *out);

/* COM_STMT_EXECUTE flags that open a cursor: read only, for update, scrollable. */
#define WIRE_CURSOR_FLAGS 0x07

/* A COM_STMT_EXECUTE payload (command byte first) of a statement with nparams
 * parameters. false when it is shorter than nparams says it must be. */
struct wire_execute {
	uint32_t stmt_id;
	uint8_t flags;    /* cursor type: 0 = no cursor */
	bool types_sent;  /* the new-params-bound flag */
	size_t types_off; /* where the types are, or would go (nparams > 0) */
};
bool wire_parse_execute(const uint8_t *p, size_t n, uint16_t nparams, struct wire_execute *e);
/*
 * Append to b the packet of the COM_STMT_EXECUTE payload p (n bytes, parsed as e) with
 * statement id `id`; types (2 * nparams bytes), when not NULL and the client sent none,
 * go in with the flag set: the backend connection may never have seen them.
 */
void wire_build_execute(struct wire_buf *b, uint8_t seq, const uint8_t *p, size_t n,
                        uint16_t nparams, const struct wire_execute *e, uint32_t id,
                        const uint8_t *types);
/* COM_STMT_BULK_EXECUTE flags: the parameter types follow the flags. */
#define WIRE_BULK_SEND_TYPES 0x80

/* A COM_STMT_BULK_EXECUTE payload (0xfa, id<4>, flags<2>, the types when flagged, then
 * rows of parameters each with an indicator byte) of a statement with nparams
 * parameters. false when it is too short for what it says. */
struct wire_bulk {
	uint32_t stmt_id;
	uint16_t flags;
	bool types_sent;
	size_t types_off; /* 7: where the types are, or would go */
};
bool wire_parse_bulk(const uint8_t *p, size_t n, uint16_t nparams, struct wire_bulk *bk);
/*
 * Append to b the packet of the bulk execute p (n bytes, parsed as bk) with statement id
 * `id`; types (2 * nparams bytes: type, flags, as an execute's), when not NULL and the
 * client sent none, go in with SEND_TYPES set.
 */
void wire_build_bulk(struct wire_buf *b, uint8_t seq, const uint8_t *p, size_t n, uint16_t nparams,
                     const struct wire_bulk *bk, uint32_t id, const uint8_t *types);
/* Append the packet of p (n >= 5 bytes: a COM_STMT_* payload) with statement id `id`. */
void wire_build_stmt_cmd(struct wire_buf *b, uint8_t seq, const uint8_t *p, size_t n, uint32_t id);

/*
 * Where the block of MariaDB's extended metadata sits in the column definition p (n bytes):
 * at *cut, after the six names; *cut_len bytes (its lenenc length and its contents) when
 * has_ext (the definition has one), else 0 (where one would go). false when p is not a
 * column definition.
 */
bool wire_coldef_ext_block(const uint8_t *p, size_t n, bool has_ext, size_t *cut, size_t *cut_len);

/* Is this payload an EOF packet (0xfe, short) under the given capabilities? */
static inline bool wire_is_eof(const uint8_t *p, size_t n, uint32_t caps)
{
	if (n == 0 || p[0] != 0xfe)
		return false;
	return (caps & CLIENT_DEPRECATE_EOF) ? n < WIRE_MAX_PAYLOAD : n < 9;
}

/* ---- response tracking ---- */

/* What a command's response looks like, so the tracker knows where it ends. */
enum wire_resp_kind {
	WIRE_RESP_NONE = 0,   /* no response at all (COM_QUIT, STMT_CLOSE, SEND_LONG_DATA) */
	WIRE_RESP_OK,         /* one OK or ERR (INIT_DB, PING, RESET_CONNECTION, STMT_RESET,
	                       * SET_OPTION, and the like) */
	WIRE_RESP_QUERY,      /* text protocol results (COM_QUERY) */
	WIRE_RESP_EXECUTE,    /* binary results (COM_STMT_EXECUTE) */
	WIRE_RESP_FETCH,      /* rows until EOF (COM_STMT_FETCH) */
	WIRE_RESP_FIELD_LIST, /* column definitions until EOF (COM_FIELD_LIST) */
	WIRE_RESP_PREPARE,    /* COM_STMT_PREPARE */
	WIRE_RESP_ONE_PACKET, /* any single packet (COM_STATISTICS) */
};

enum wire_resp_state {
	WRS_FIRST = 0,   /* waiting for the first packet */
	WRS_COLDEFS,     /* column definitions to go */
	WRS_COLDEFS_EOF, /* the EOF after column definitions */
	WRS_ROWS,        /* rows until EOF/OK or ERR */
	WRS_PREP_PARAMS, /* prepare: parameter definitions */
	WRS_PREP_PARAMS_EOF,
	WRS_PREP_COLS,
	WRS_PREP_COLS_EOF,
	WRS_INFILE, /* the server asked for a LOCAL INFILE; the client sends it */
	WRS_DONE,
};

struct wire_resp {
	enum wire_resp_kind kind;
	enum wire_resp_state state;
	uint32_t caps;      /* capabilities in force on the connection */
	uint64_t left;      /* column/param definitions still to come */
	uint32_t prep_cols; /* prepare: columns after the parameters */
	uint16_t status;    /* status flags of the last OK/EOF */
	bool has_status;    /* status was set by a final OK/EOF of this response */
	uint16_t warnings;
	bool is_err; /* the response ended with ERR */
	uint16_t err_code;
	uint32_t stmt_id;       /* prepare: the statement id the server chose */
	uint64_t affected_rows; /* from the final OK */
	uint64_t last_insert_id;
	bool result_set;    /* the last result was rows (or a cursor), not an OK */
	bool eof_changed;   /* an EOF said SERVER_SESSION_STATE_CHANGED (what changed comes
	                     * only in an OK, under CLIENT_DEPRECATE_EOF) */
	bool state_changed; /* a final OK carried SERVER_SESSION_STATE_CHANGED */
	bool ok_seen;       /* the packet just fed was an OK; the caller clears it */
};

enum wire_resp_step {
	WIRE_STEP_MORE = 0, /* the response goes on */
	WIRE_STEP_DONE,     /* this packet ended the response */
	WIRE_STEP_INFILE,   /* the server wants the client's LOCAL INFILE data now */
	WIRE_STEP_BAD,      /* not a valid response: the connection is out of sync */
};

void wire_resp_init(struct wire_resp *r, enum wire_resp_kind kind, uint32_t caps);
/* The response kind of a command (by its first payload byte). */
enum wire_resp_kind wire_cmd_resp_kind(uint8_t cmd);
/* Feed one whole logical packet's payload (the first fragment of a split packet is
 * enough: continuations are never fed). */
enum wire_resp_step wire_resp_feed(struct wire_resp *r, const uint8_t *p, size_t n);
/* After an INFILE step: the client's data has been sent; an OK/ERR follows. */
void wire_resp_infile_sent(struct wire_resp *r);
/* Can a packet with this first byte and length be passed on before it has arrived
 * whole? True only for rows (which may be huge); everything that ends or shapes the
 * response is small and must be fed whole. */
bool wire_resp_can_stream(const struct wire_resp *r, uint8_t first, size_t n);

#endif
