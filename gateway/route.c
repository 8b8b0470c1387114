/*
 * route.c - a client's command on its way to a server: prepared statements (the client's
 * ids, the backend's on each connection, a statement prepared again where it is not yet,
 * the parameter types an execute left out put back: stmt.h, docs/pooling.md) and the
 * sending of the command itself, in the packets the client sent or as sluice rewrote
 * them (client.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gateway/client.h"
#include "gateway/done.h"
#include "gateway/hold.h"
#include "gateway/intake.h"
#include "gateway/route.h"
#include "gateway/server.h"
#include "proto/log.h"
#include "proto/sqlscan.h"
#include "proto/util.h"

/* ---- prepared statements (stmt.h; docs/pooling.md) ---- */

/* COM_STMT_PREPARE: keep its SQL for the statement's record. false: answered here. */
bool client_stmt_prepare_begin(struct gw_client *c, const uint8_t *p, uint32_t len)
{
	free(c->prep_sql);
	c->prep_sql = NULL;
	c->prep_sql_len = 0;
	if (len == WIRE_MAX_PAYLOAD) {
		client_consume(c, WIRE_HDR_LEN + len);
		client_send_err(c, 1, 1105, "HY000",
		                "sluice cannot prepare a statement of 16 MiB or more");
		/* The rest of the packet follows as commands of their own: end here. */
		client_close(c, "COM_STMT_PREPARE of 16 MiB or more");
		return false;
	}
	if (c->stmts.n >= GW_STMTS_MAX) {
		char msg[120];

		client_consume(c, WIRE_HDR_LEN + len);
		snprintf(msg, sizeof(msg),
		         "Can't create more than max_prepared_stmt_count statements "
		         "(current value: %u)",
		         GW_STMTS_MAX);
		client_send_err(c, 1, 1461, "42000", msg);
		return false;
	}
	c->prep_sql = malloc(len); /* len - 1 bytes of SQL; at least one byte */
	if (!c->prep_sql) {
		client_consume(c, WIRE_HDR_LEN + len);
		client_send_err(c, 1, 1037, "HY001", "Out of memory");
		return false;
	}
	memcpy(c->prep_sql, p + 1, len - 1);
	c->prep_sql_len = len - 1;
	return true;
}

static const char *stmt_cmd_name(uint8_t cmd)
{
	switch (cmd) {
	case COM_STMT_EXECUTE:
		return "mysqld_stmt_execute";
	case COM_STMT_RESET:
		return "mysqld_stmt_reset";
	case COM_STMT_FETCH:
		return "mysqld_stmt_fetch";
	case COM_STMT_BULK_EXECUTE:
		return "mysqld_stmt_bulk_execute";
	default:
		return "mysqld_stmt_send_long_data";
	}
}

/* COM_STMT_BULK_EXECUTE of st: like an execute, its types are kept (they have an
 * execute's layout), and it holds and pins as its statement's text would. */
static bool client_stmt_bulk_intake(struct gw_client *c, struct gw_stmt *st, const uint8_t *p,
                                    uint32_t len)
{
	struct wire_bulk bk;

	if (!wire_parse_bulk(p, len, st->nparams, &bk)) {
		client_consume(c, WIRE_HDR_LEN + len);
		client_send_err(c, 1, 1210, "HY000",
		                "Incorrect arguments to mysqld_stmt_bulk_execute");
		return false;
	}
	if (bk.types_sent && st->nparams > 0 && !gw_stmt_set_types(st, p + bk.types_off)) {
		client_consume(c, WIRE_HDR_LEN + len);
		client_send_err(c, 1, 1037, "HY001", "Out of memory");
		return false;
	}
	c->sql_flags = client_note_carried(c, st->sql_flags, NULL);
	return true;
}

/*
 * COM_STMT_EXECUTE, _SEND_LONG_DATA, _RESET, _FETCH: the statement must be the client's.
 * An execute's parameter types are kept (its next executes may leave them out, and may
 * run elsewhere). A statement given long data or opening a cursor keeps state in its
 * backend statement: from then on it has one of its own, not shared with other clients
 * (and the command pins: gw_client_response_done). A reset with nothing pinned has
 * nothing to reset on any backend: answered here. false: answered (or closed) here.
 */
bool client_stmt_intake(struct gw_client *c, const uint8_t *p, uint32_t len, bool resumed)
{
	struct gw_stmt *st;
	struct wire_execute e;
	char msg[160];

	if (len < 5) {
		client_close(c, "malformed COM_STMT_* packet");
		return false;
	}
	st = gw_stmts_find(&c->stmts, wire_u32(p + 1));
	if (!st) {
		client_consume(c, WIRE_HDR_LEN + len);
		if (p[0] == COM_STMT_SEND_LONG_DATA)
			return false; /* no answer; the execute will say */
		snprintf(msg, sizeof(msg), "Unknown prepared statement handler (%u) given to %s",
		         wire_u32(p + 1), stmt_cmd_name(p[0]));
		client_send_err(c, 1, 1243, "HY000", msg);
		return false;
	}
	if (p[0] == COM_STMT_RESET && c->diag_kept)
		client_diag_release(c); /* nothing of the session is on it */
	if (p[0] == COM_STMT_RESET && !c->server) {
		client_consume(c, WIRE_HDR_LEN + len);
		client_send_ok(c, 1);
		return false;
	}
	if (p[0] == COM_STMT_SEND_LONG_DATA)
		gw_stmt_make_private(st, c->id); /* the data waits in its backend statement */
	if (p[0] == COM_STMT_BULK_EXECUTE)
		return client_stmt_bulk_intake(c, st, p, len);
	if (p[0] != COM_STMT_EXECUTE)
		return true;
	if (!wire_parse_execute(p, len, st->nparams, &e)) {
		client_consume(c, WIRE_HDR_LEN + len);
		client_send_err(c, 1, 1210, "HY000", "Incorrect arguments to mysqld_stmt_execute");
		return false;
	}
	if (e.types_sent && !gw_stmt_set_types(st, p + e.types_off)) {
		client_consume(c, WIRE_HDR_LEN + len);
		client_send_err(c, 1, 1037, "HY001", "Out of memory");
		return false;
	}
	if (e.flags & WIRE_CURSOR_FLAGS)
		gw_stmt_make_private(st, c->id); /* the cursor lives in its backend statement */
	/* What the execute will do, for client_expects_hold() before it queues. */
	c->sql_flags = client_note_carried(c, st->sql_flags, NULL);
	c->status_compress = c->compress && st->reads_status;
	if ((st->sql_flags & SQL_KILL) && p[0] == COM_STMT_EXECUTE && resumed)
		return c->kill_subst; /* taken the first time (it waits only when it goes on) */
	if ((st->sql_flags & SQL_KILL) && p[0] == COM_STMT_EXECUTE) {
		/* A prepared KILL (DBD::mysql, Connector/J and PDO prepare on the server): the
		 * same rules as the SQL one; its execute answers as the query would (OK or
		 * ERR, no columns). */
		bool query_only;
		uint32_t id;

		if (sql_kill_parse((const uint8_t *)st->sql, st->sql_len, &query_only, &id)) {
			c->kill_subst = client_kill_id(c, id, query_only, len);
			return c->kill_subst;
		}
	}
	c->pin_pending = c->pin_pending || (e.flags & WIRE_CURSOR_FLAGS);
	return true;
}

const struct gw_stmt *gw_client_stmt_pending(struct gw_client *c)
{
	const uint8_t *p;
	uint32_t len;
	uint8_t seq;

	if (c->cmd != COM_STMT_EXECUTE && c->cmd != COM_STMT_SEND_LONG_DATA &&
	    c->cmd != COM_STMT_RESET && c->cmd != COM_STMT_FETCH && c->cmd != COM_STMT_BULK_EXECUTE)
		return NULL;
	if (c->kill_subst)
		return NULL; /* a prepared KILL goes as KILL QUERY <backend id> (subst_pkt) */
	if (!client_peek_packet(c, &p, &len, &seq) || len < 5)
		return NULL;
	return gw_stmts_find(&c->stmts, wire_u32(p + 1));
}

void gw_client_stmt_prepared(struct gw_client *c, struct gw_server *s, uint8_t *p, uint32_t n)
{
	struct wire_prepare_ok ok;
	struct gw_stmt_ctx ctx;
	struct gw_stmt *st;

	if (!wire_parse_prepare_ok(p, n, &ok) || !c->prep_sql) {
		c->stmts.last_id = 0; /* an ERR: id -1 now names nothing */
		return;
	}
	ctx.db = c->db;
	ctx.vars_hash = c->vars.hash;
	ctx.charset = c->charset;
	st = gw_stmts_add(&c->stmts, &ctx, c->prep_sql, c->prep_sql_len, ok.nparams, ok.ncols);
	if (!st) {
		gw_sstmts_close_later(&s->stmts, ok.stmt_id);
	} else if (!gw_sstmts_add(&s->stmts, st, ok.stmt_id)) { /* which closes it */
		gw_stmts_remove(&c->stmts, st->id);
		st = NULL;
	} else {
		struct sql_uvars names;
		unsigned f =
		    sql_scan_vars((const uint8_t *)c->prep_sql, c->prep_sql_len,
		                  (c->status & SERVER_STATUS_NO_BACKSLASH_ESCAPES) != 0, &names);

		/* A prepared statement that assigns user variables keeps its session where
		 * it ran: its names are not captured (one that reads them gets them). */
		if (f & SQL_UVAR_WRITE)
			f |= SQL_UVAR_PIN;
		/* One that reads ROW_COUNT() reads it at each execute, on the backend (the
		 * text is not rewritten: the value changes): the session's statements run
		 * where it does from this prepare on. */
		if (f & SQL_ROW_COUNT)
			c->pin_pending = true;
		st->sql_flags = f & (SQL_PINS | SQL_TRANS | SQL_USER_VAR | SQL_LAST_INSERT_ID |
		                     SQL_LID_SET | SQL_KILL | SQL_UVAR_LIST | SQL_DIAG);
		st->reads_status = sql_reads_status((const uint8_t *)c->prep_sql, c->prep_sql_len);
	}
	/* Without a record (out of memory, or GW_STMTS_MAX open) the client gets an id it
	 * can only use to learn that it is unknown: 0. */
	wire_put_u32_at(p + 1, st ? st->id : 0);
	free(c->prep_sql);
	c->prep_sql = NULL;
}

/*
 * The command at the head of c's input, for s, in c->subst_pkt when it names a
 * statement: with the backend's id on s and, for an execute that left them out, the
 * parameter types. false when s failed (the client was told).
 */
static bool client_stmt_subst(struct gw_client *c, struct gw_server *s, const uint8_t *p,
                              uint32_t len)
{
	const struct gw_stmt *st = gw_client_stmt_pending(c);
	struct wire_execute e;
	struct wire_bulk bk;
	bool execute, bulk;
	uint32_t id;

	if (!st)
		return true; /* (a prepared KILL's subst_pkt is already there) */
	id = gw_sstmts_find(&s->stmts, st);
	if (id == 0) {
		gw_server_fail(s, "prepared statement missing on the backend connection");
		return false;
	}
	wire_buf_reset(&c->subst_pkt);
	execute = p[0] == COM_STMT_EXECUTE && wire_parse_execute(p, len, st->nparams, &e);
	bulk = p[0] == COM_STMT_BULK_EXECUTE && wire_parse_bulk(p, len, st->nparams, &bk);
	if (bulk)
		c->sql_flags = client_note_carried(c, st->sql_flags, NULL);
	if (execute) {
		/* Pinned at the end if it opens a cursor or does what a query pins for. */
		c->pin_pending = c->pin_pending || (e.flags & WIRE_CURSOR_FLAGS);
		c->sql_flags = client_note_carried(c, st->sql_flags, NULL);
	}
	if (len == WIRE_MAX_PAYLOAD && ((execute && !e.types_sent) || (bulk && !bk.types_sent)) &&
	    st->types && st->nparams > 0) {
		/* The first of several packets, without the types the connection may never
		 * have seen: with them it is longer than a packet. Its first 16 MiB go now;
		 * the rest is carried into the next packet, and so on to the last
		 * (client_forward_shifted). */
		if (execute)
			wire_build_execute(&c->subst_pkt, 0, p, len, st->nparams, &e, id,
			                   st->types);
		else
			wire_build_bulk(&c->subst_pkt, 0, p, len, st->nparams, &bk, id, st->types);
		wire_buf_reset(&c->cont_carry);
		if (!c->subst_pkt.failed) {
			size_t first = WIRE_HDR_LEN + (size_t)WIRE_MAX_PAYLOAD;

			wire_put_bytes(&c->cont_carry, c->subst_pkt.data + first + WIRE_HDR_LEN,
			               c->subst_pkt.len - first - WIRE_HDR_LEN);
			c->subst_pkt.len = first;
			c->cont_shift = true;
			c->cont_seq = 1;
			if (c->cont_carry.failed)
				c->subst_pkt.failed = true;
		}
	} else if (len == WIRE_MAX_PAYLOAD) {
		/* The first of several packets: the rest follow as the client sent them, so
		 * this one keeps its length and sequence id; only the id changes. */
		wire_put_bytes(&c->subst_pkt, p - WIRE_HDR_LEN, WIRE_HDR_LEN + (size_t)len);
		if (!c->subst_pkt.failed)
			wire_put_u32_at(c->subst_pkt.data + WIRE_HDR_LEN + 1, id);
	} else if (execute) {
		wire_build_execute(&c->subst_pkt, 0, p, len, st->nparams, &e, id, st->types);
	} else if (bulk) {
		wire_build_bulk(&c->subst_pkt, 0, p, len, st->nparams, &bk, id, st->types);
	} else {
		wire_build_stmt_cmd(&c->subst_pkt, 0, p, len, id);
	}
	if (c->subst_pkt.failed) {
		wire_buf_free(&c->subst_pkt);
		c->cont_shift = false;
		gw_server_fail(s, "out of memory");
		return false;
	}
	return true;
}

/* The packets in b (whole ones, from wire_packet_end). */
static unsigned wire_buf_packets(const struct wire_buf *b)
{
	unsigned n = 0;

	for (size_t pos = 0; pos + WIRE_HDR_LEN <= b->len;
	     pos += WIRE_HDR_LEN + wire_u24(b->data + pos))
		n++;
	return n;
}

static bool client_send_header(struct gw_server *s, uint32_t len, uint8_t seq)
{
	uint8_t h[WIRE_HDR_LEN] = { (uint8_t)len, (uint8_t)(len >> 8), (uint8_t)(len >> 16), seq };

	return gw_server_send(s, h, sizeof(h));
}

/*
 * A continuation packet p (len bytes, sequence id seq) of a command that sluice made
 * longer (cont_shift): the carried bytes go first, and what no longer fits is carried
 * into the next packet. The client's last packet (shorter than 16 MiB) ends it with one
 * or two packets; the answer's sequence ids are then lowered by the extra one, if any.
 * false when the server failed.
 */
bool client_forward_shifted(struct gw_client *c, struct gw_server *s, const uint8_t *p,
                            uint32_t len, uint8_t seq)
{
	size_t k = c->cont_carry.len, room = WIRE_MAX_PAYLOAD - k; /* k < 16 MiB */
	bool more = len == WIRE_MAX_PAYLOAD;

	if (more || k + len >= WIRE_MAX_PAYLOAD) {
		/* A full packet: the carry, then the first bytes of p. */
		if (!client_send_header(s, WIRE_MAX_PAYLOAD, c->cont_seq++) ||
		    (k && !gw_server_send(s, c->cont_carry.data, k)) || !gw_server_send(s, p, room))
			return false;
		p += room;
		len -= (uint32_t)room;
		if (more) {
			/* The rest of p (k bytes) is the next packet's carry. */
			memcpy(c->cont_carry.data, p, k);
			return true;
		}
		k = 0; /* the last packet: what is left of p (maybe nothing) ends it */
	}
	if (!client_send_header(s, (uint32_t)(k + len), c->cont_seq) ||
	    (k && !gw_server_send(s, c->cont_carry.data, k)) || (len && !gw_server_send(s, p, len)))
		return false;
	s->seq_delta = (uint8_t)(c->cont_seq - seq);
	c->cont_shift = false;
	wire_buf_reset(&c->cont_carry);
	return true;
}

/* Forward the head command packet (and what follows it) to the bound server. */
void gw_client_send_command(struct gw_client *c, struct gw_server *s)
{
	const uint8_t *payload;
	uint32_t len;
	uint8_t seq;

	if (!client_peek_packet(c, &payload, &len, &seq)) {
		gw_bug(__FILE__, __LINE__, "command packet vanished");
	}
	s->last_seq = 0; /* should s fail below, the client's error answers this command */
	s->seq_delta = 0;
	c->cont_shift = false;
	client_set_state(c, GW_CL_RUNNING);
	if (!client_stmt_subst(c, s, payload, len) || !gw_server_flush_closes(s))
		return; /* s failed; the client got an error */
	if (c->subst_pkt.len && len < WIRE_MAX_PAYLOAD)
		/* The types put back may have made it 16 MiB or more: several packets. */
		s->seq_delta = (uint8_t)(wire_buf_packets(&c->subst_pkt) - 1);
	wire_resp_init(&s->resp, wire_cmd_resp_kind(payload[0]), s->caps);
	s->prep_resp_first = payload[0] == COM_STMT_PREPARE;
	s->infile_refused = false;
	s->started_ns = gw_now_ns();
	__atomic_store_n(&s->busy, s->resp.state != WRS_DONE, __ATOMIC_RELEASE);
	c->cmd_continued = len == WIRE_MAX_PAYLOAD;
	if (c->subst_pkt.len) {
		/* KILL <client id> as KILL QUERY <backend thread id>, or a COM_STMT_* with
		 * the backend's statement id. */
		bool sent = gw_server_send(s, c->subst_pkt.data, c->subst_pkt.len);

		wire_buf_reset(&c->subst_pkt);
		if (!sent)
			return;
	} else if (!gw_server_send(s, c->in.data + c->in.start, WIRE_HDR_LEN + len)) {
		return; /* the server failed; the client got an error */
	}
	client_consume(c, WIRE_HDR_LEN + len);
	if (s->resp.state == WRS_DONE && !c->cmd_continued)
		gw_client_response_done(c, s);
	else if (c->cmd_continued)
		client_process(c);
}
