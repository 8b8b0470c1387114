/*
 * stream.c - a command's answer, from the backend connection to the client: packets
 * passed on in place as they arrive (a large row before it is whole), each fed to the
 * response tracker (wire.h) to learn where the answer ends; what the client must see
 * differently rewritten on the way: the OK for a client without session tracking (and
 * the session state it reports, learned), column definitions with or without MariaDB's
 * extended metadata, names and types of the functions sluice wrote in, the Compression
 * row, a LOCAL INFILE request the client did not allow.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "gateway/client.h"
#include "gateway/done.h"
#include "gateway/killmap.h"
#include "gateway/pool.h"
#include "gateway/route.h"
#include "gateway/server.h"
#include "gateway/stream.h"
#include "proto/log.h"
#include "proto/session.h"
#include "proto/util.h"

static size_t lenenc_size(uint64_t v)
{
	return v < 0xfb ? 1 : v <= 0xffff ? 3 : v <= 0xffffff ? 4 : 9;
}

/* server_fix_coldef() moves at most this many bytes to take a block out: bytes before the
 * packet beyond that are sent first */
#define GW_COLDEF_MOVE_MAX 4096

/*
 * A column definition (the whole packet at offset pkt of s->in, ending at end) for a
 * client whose idea of MariaDB's extended metadata differs from s's (issue 12): backend
 * connections take the metadata whenever MariaDB has it, since each serves clients of
 * both kinds. A client that did not ask gets the definition without the block, in place:
 * the bytes before the block, from the start of what is not forwarded yet, move up over
 * it (no extra send, nothing after it moves). A client that asked, on a connection
 * without it (a backend changed since start), gets an empty block in a rebuilt packet.
 */
static void server_fix_coldef(struct gw_server *s, size_t pkt, size_t end)
{
	struct gw_client *c = s->client;
	uint8_t *d = s->in.data;
	size_t n = end - pkt - WIRE_HDR_LEN;
	bool has_ext = (s->ext_caps & MARIADB_CLIENT_EXTENDED_METADATA) != 0;
	size_t cut, cut_len, head;
	struct wire_buf b;
	size_t off;

	if (!c || server_state(s) != GW_SV_ACTIVE ||
	    !wire_coldef_ext_block(d + pkt + WIRE_HDR_LEN, n, has_ext, &cut, &cut_len))
		return;
	if (has_ext) {
		if (pkt - s->in.start > GW_COLDEF_MOVE_MAX) {
			gw_client_forward(c, d + s->in.start, pkt - s->in.start);
			s->in.start = pkt;
		}
		head = pkt + WIRE_HDR_LEN + cut - s->in.start;
		memmove(d + s->in.start + cut_len, d + s->in.start, head);
		s->in.start += cut_len;
		pkt += cut_len;
		n -= cut_len;
		d[pkt] = (uint8_t)n;
		d[pkt + 1] = (uint8_t)(n >> 8);
		d[pkt + 2] = (uint8_t)(n >> 16);
		return;
	}
	wire_buf_init(&b);
	off = wire_packet_begin(&b, d[pkt + 3]);
	wire_put_bytes(&b, d + pkt + WIRE_HDR_LEN, cut);
	wire_put_lenenc(&b, 0);
	wire_put_bytes(&b, d + pkt + WIRE_HDR_LEN + cut, n - cut);
	wire_packet_end(&b, off);
	if (!b.failed) {
		gw_client_forward2(c, d + s->in.start, pkt - s->in.start, b.data, b.len);
		s->in.start = end;
	}
	wire_buf_free(&b);
}

/*
 * A row of a status query of a compressed client (c->status_compress): the backend
 * speaks of its own connection, which is not compressed; the client's is. A row
 * (Compression, OFF) is forwarded as (Compression, ON), as MariaDB answers a compressed
 * client (issue 12): a text row, or a binary one (a prepared execute: 0x00, the NULL
 * bitmap, whose first two bits are reserved, then the two strings). pkt..end is the whole
 * packet in s->in; the bytes before it are forwarded first, as server_on_ok() does.
 */
static void server_on_status_row(struct gw_server *s, const uint8_t *pkt, size_t end)
{
	const uint8_t *p = pkt + WIRE_HDR_LEN;
	size_t n = end - (size_t)(pkt - s->in.data) - WIRE_HDR_LEN;
	struct wire_cur cur = wire_cur_init(p, n);
	struct gw_client *c = s->client;
	const uint8_t *name, *value;
	size_t name_len, value_len;
	struct wire_buf b;
	size_t off;

	bool binary = s->resp.kind == WIRE_RESP_EXECUTE;

	if (binary) {
		/* two columns: one bitmap byte, bits 2 and 3 theirs, neither NULL */
		if (n < 2 || p[0] != 0x00 || (p[1] & 0x0c) != 0)
			return;
		cur = wire_cur_init(p + 2, n - 2);
	}
	if (!c || server_state(s) != GW_SV_ACTIVE || (s->resp.kind != WIRE_RESP_QUERY && !binary) ||
	    n == 0 || (!binary && p[0] >= 0xfb) || !wire_get_lenenc_str(&cur, &name, &name_len) ||
	    !wire_get_lenenc_str(&cur, &value, &value_len) || wire_cur_left(&cur) != 0 ||
	    name_len != 11 || strncasecmp((const char *)name, "compression", 11) != 0 ||
	    value_len != 3 || memcmp(value, "OFF", 3) != 0)
		return;
	wire_buf_init(&b);
	off = wire_packet_begin(&b, pkt[3]);
	if (binary)
		wire_put_bytes(&b, p, 2);
	wire_put_lenenc_str(&b, name, name_len);
	wire_put_lenenc_str(&b, "ON", 2);
	wire_packet_end(&b, off);
	if (!b.failed) {
		gw_client_forward2(c, s->in.data + s->in.start,
		                   (size_t)(pkt - s->in.data) - s->in.start, b.data, b.len);
		s->in.start = (size_t)(pkt - s->in.data) + WIRE_HDR_LEN + n;
	}
	wire_buf_free(&b);
}

/*
 * A KILL sent on as KILL QUERY <backend thread id> met no such thread (ERR 1094): the
 * connection that ran the target's statement closed meanwhile (the session ended by the
 * same KILL, its statement stopped), so what was asked is done: the client gets the OK
 * MariaDB gives a KILL, not the backend's error about an id it never named. pkt..end is
 * the whole ERR packet in s->in; the bytes before it are forwarded first.
 */
static void server_kill_gone(struct gw_server *s, const uint8_t *pkt, size_t end)
{
	struct gw_client *c = s->client;
	size_t n = end - (size_t)(pkt - s->in.data) - WIRE_HDR_LEN;
	uint16_t status = c->status ? c->status : SERVER_STATUS_AUTOCOMMIT;
	struct wire_buf b;

	wire_buf_init(&b);
	wire_build_ok(&b, pkt[3], c->caps, 0, 0, status & ~SERVER_SESSION_STATE_CHANGED, 0);
	if (!b.failed) {
		gw_client_forward2(c, s->in.data + s->in.start,
		                   (size_t)(pkt - s->in.data) - s->in.start, b.data, b.len);
		s->in.start = (size_t)(pkt - s->in.data) + WIRE_HDR_LEN + n;
		s->resp.is_err = false;
	}
	wire_buf_free(&b);
}

/*
 * An OK packet [pkt, end) went by in the response: learn the session state it reports
 * (variables, schema, "something else changed"), and rewrite it for a client that did
 * not ask for session tracking (the backend connection always does).
 */
static void server_on_ok(struct gw_server *s, const uint8_t *pkt, size_t end)
{
	const uint8_t *p = pkt + WIRE_HDR_LEN;
	size_t n = end - (size_t)(pkt - s->in.data) - WIRE_HDR_LEN;
	struct gw_client *c = s->client;
	struct gw_session_change chg;
	struct wire_ok ok;
	struct wire_buf b;

	if (!wire_parse_ok(p, n, s->caps, &ok))
		return;
	if (c && ok.last_insert_id) {
		/* What LAST_INSERT_ID() returns now, unless the id was given, not generated:
		 * exact once captured (uvars.h). The backend holds c's value. */
		c->last_insert_id = ok.last_insert_id;
		c->lid_dirty = true;
		s->lid_client = c->id;
	}
	if (ok.state_len > 0) {
		if (!gw_session_parse(ok.state, ok.state_len, &s->vars, &chg)) {
			if (c)
				c->pin_pending = true; /* can't tell: keep it safe */
		} else {
			if (chg.schema)
				gw_strlcpy(s->db, chg.db, sizeof(s->db));
			if (c) {
				struct gw_session_change cchg;

				gw_session_parse(ok.state, ok.state_len, &c->vars, &cchg);
				if (chg.schema)
					gw_strlcpy(c->db, chg.db, sizeof(c->db));
				if (chg.lid_set) { /* SET last_insert_id = N */
					c->last_insert_id = chg.lid;
					c->lid_dirty = false;
					s->lid_client = c->id;
				}
				/* The variables and schema reported explain a state change
				 * only for COM_INIT_DB and for SET / USE statements, and so do
				 * the user variables a statement assigns (captured when it
				 * ends); anything else (a procedure, say) may also have set
				 * what nothing reports: a user variable, a temporary table. */
				bool uv = c->cmd == COM_QUERY && (c->sql_flags & SQL_UVAR_WRITE);
				bool told =
				    c->cmd == COM_INIT_DB ||
				    (c->cmd == COM_QUERY && !(c->sql_flags & SQL_NOT_SET_USE)) ||
				    uv;

				if ((chg.state_changed &&
				     (!told ||
				      (chg.nvars == 0 && !chg.schema && !chg.lid_set && !uv))) ||
				    chg.overflow || cchg.overflow)
					c->pin_pending = true;
			}
		}
	}
	if (!c || (c->caps & CLIENT_SESSION_TRACK) || server_state(s) != GW_SV_ACTIVE ||
	    s->infile_refused)
		return; /* (a refused LOCAL INFILE's OK is replaced whole, below) */
	/* The client expects the pre-tracking OK: info as plain text, no state block. */
	if (n <= 5 + lenenc_size(ok.affected_rows) + lenenc_size(ok.last_insert_id))
		return; /* nothing after the warnings: the same in both formats */
	wire_buf_init(&b);
	gw_ok_strip_tracking(&b, pkt[3], p, n, s->caps);
	if (!b.failed) {
		gw_client_forward2(c, s->in.data + s->in.start,
		                   (size_t)(pkt - s->in.data) - s->in.start, b.data, b.len);
		s->in.start = (size_t)(pkt - s->in.data) + WIRE_HDR_LEN + n;
	}
	wire_buf_free(&b);
}

/*
 * LOAD DATA LOCAL from a client that did not allow CLIENT_LOCAL_FILES (backend
 * connections always do): the server's file request [pkt, end) is not passed on; the
 * server gets an empty file at once, and its answer is replaced by the ERR 1148 MySQL
 * gives such a client.
 */
static void server_refuse_infile(struct gw_server *s, size_t pkt, size_t end,
                                 enum wire_resp_step step)
{
	struct gw_client *c = s->client;
	uint8_t *d = s->in.data;
	struct wire_buf b;

	wire_buf_init(&b);
	if (step == WIRE_STEP_INFILE) {
		s->infile_refused = true;
		s->infile_seq = d[pkt + 3];
		wire_packet_begin(&b, (uint8_t)(d[pkt + 3] + 1));
		wire_packet_end(&b, 0);
		gw_client_forward(c, d + s->in.start, pkt - s->in.start);
		s->in.start = end;
		s->scan = 0;
		wire_resp_infile_sent(&s->resp);
		if (!b.failed && gw_server_send(s, b.data, b.len) &&
		    server_state(s) != GW_SV_CLOSED)
			server_stream(s); /* bytes after it, if any */
		wire_buf_free(&b);
		return;
	}
	s->infile_refused = false;
	wire_build_err(&b, s->infile_seq, 1148, "42000",
	               "The used command is not allowed with this MariaDB version (the client "
	               "did not enable LOCAL INFILE)");
	if (!b.failed)
		gw_client_forward2(c, d + s->in.start, pkt > s->in.start ? pkt - s->in.start : 0,
		                   b.data, b.len);
	wire_buf_free(&b);
	s->in.start = end;
	s->scan = 0;
	if (s->in.start == s->in.end)
		s->in.start = s->in.end = 0;
	if (s->client)
		gw_client_response_done(s->client, s);
}

/* The first packet of the answer to a client's COM_STMT_PREPARE. A client that left
 * (DRAIN) leaves a statement nobody will use: closed with the next write. */
static void stmt_prepared(struct gw_server *s, uint8_t *p, uint32_t len)
{
	struct wire_prepare_ok ok;

	if (s->client && server_state(s) == GW_SV_ACTIVE)
		gw_client_stmt_prepared(s->client, s, p, len);
	else if (wire_parse_prepare_ok(p, len, &ok))
		gw_sstmts_close_later(&s->stmts, ok.stmt_id);
}

/* The packet at pos of s->in (len bytes of payload) goes to the client as it comes,
 * without being parsed: its sequence id lowered for the client (once), the bytes skipped
 * from here on. */
static void server_pass_packet(struct gw_server *s, size_t pos, uint32_t len)
{
	s->in.data[pos + 3] = (uint8_t)(s->in.data[pos + 3] - s->seq_delta);
	s->last_seq = s->in.data[pos + 3];
	s->continued = len == WIRE_MAX_PAYLOAD;
	s->skip = WIRE_HDR_LEN + (size_t)len;
}

/*
 * Parse response packets in s->in, feeding the tracker, and forward everything parsed
 * to the client. Rows may be passed on before they have arrived whole (skip), so a huge
 * row or result never sits in memory.
 */
void server_stream(struct gw_server *s)
{
	const uint8_t *d;
	size_t pos, end;
	enum wire_resp_step step = WIRE_STEP_MORE;
	struct gw_client *c;
	size_t need = 0, last_pkt = 0;

	if (server_state(s) == GW_SV_ACTIVE && s->resp.state == WRS_DONE && s->client &&
	    s->client->state == GW_CL_IDLE) {
		/* A pinned connection between statements: nothing was asked, and nothing
		 * may reach the client unasked (a server's goodbye ERR before it closes). */
		const uint8_t *h = s->in.data + s->in.start;
		size_t avail = gw_buf_len(&s->in);
		static const char what[] = "the backend ended the session";
		char why[300];

		if (avail > WIRE_HDR_LEN && wire_u24(h) <= avail - WIRE_HDR_LEN)
			server_err_reason(h + WIRE_HDR_LEN, wire_u24(h), what, why, sizeof(why));
		else
			snprintf(why, sizeof(why), "%s", what);
		server_close(s, why);
		return;
	}

	for (;;) {
		d = s->in.data;
		pos = s->in.start + s->scan;
		end = s->in.end;
		while (pos < end && step == WIRE_STEP_MORE) {
			uint32_t len;
			size_t avail;

			if (s->skip) {
				size_t k = end - pos < s->skip ? end - pos : s->skip;

				pos += k;
				s->skip -= k;
				continue;
			}
			avail = end - pos;
			if (avail < WIRE_HDR_LEN)
				break;
			len = wire_u24(d + pos);
			if (s->continued) {
				/* The tail of a packet of 16 MiB or more: pass it on. */
				server_pass_packet(s, pos, len);
				continue;
			}
			if (avail >= WIRE_HDR_LEN + (size_t)len) {
				size_t pkt = pos;

				s->in.data[pos + 3] =
				    (uint8_t)(d[pos + 3] - s->seq_delta); /* once */
				s->last_seq = d[pos + 3];
				s->continued = len == WIRE_MAX_PAYLOAD;
				if (s->prep_resp_first) {
					/* The client's statement id goes in before it is
					 * forwarded, below. */
					s->prep_resp_first = false;
					stmt_prepared(s, s->in.data + pos + WIRE_HDR_LEN, len);
				}
				bool row = s->resp.state == WRS_ROWS;
				bool coldef = s->resp.state == WRS_COLDEFS ||
				              s->resp.state == WRS_PREP_PARAMS ||
				              s->resp.state == WRS_PREP_COLS;

				if (s->client && s->client->nsubs &&
				    ((s->resp.state == WRS_COLDEFS &&
				      s->client->cmd == COM_QUERY) ||
				     (s->resp.state == WRS_PREP_COLS &&
				      s->client->cmd == COM_STMT_PREPARE)))
					/* (a prepared statement's column keeps the literal's
					 * type: its binary rows are encoded by it) */
					gw_subst_coldef(s->client, s->in.data + pos + WIRE_HDR_LEN,
					                len, s->client->cmd == COM_QUERY);

				step = wire_resp_feed(&s->resp, d + pos + WIRE_HDR_LEN, len);
				pos += WIRE_HDR_LEN + (size_t)len;
				last_pkt = pkt;
				if (s->resp.ok_seen) {
					s->resp.ok_seen = false;
					server_on_ok(s, d + pkt, pos);
				} else if (step == WIRE_STEP_DONE && s->resp.is_err &&
				           s->resp.err_code == 1094 && s->client &&
				           s->client->kill_backend) {
					server_kill_gone(s, d + pkt, pos);
				} else if (row && step == WIRE_STEP_MORE && s->client &&
				           s->client->status_compress) {
					server_on_status_row(s, d + pkt, pos);
				} else if (coldef && s->client &&
				           ((s->ext_caps ^ s->client->ext_caps) &
				            MARIADB_CLIENT_EXTENDED_METADATA) &&
				           len >= 4 &&
				           memcmp(d + pkt + WIRE_HDR_LEN, "\003def", 4) == 0) {
					server_fix_coldef(s, pkt, pos);
				}
				continue;
			}
			if (avail > WIRE_HDR_LEN && len >= 1024 &&
			    wire_resp_can_stream(&s->resp, d[pos + WIRE_HDR_LEN], len)) {
				server_pass_packet(s, pos, len);
				continue;
			}
			/* A small packet not whole yet: make room for all of it, below. */
			need = WIRE_HDR_LEN + (size_t)len - avail;
			break;
		}
		if ((step == WIRE_STEP_INFILE || (step == WIRE_STEP_DONE && s->infile_refused)) &&
		    s->client && server_state(s) == GW_SV_ACTIVE &&
		    (step == WIRE_STEP_DONE || !(s->client->caps & CLIENT_LOCAL_FILES))) {
			server_refuse_infile(s, last_pkt, pos, step);
			return;
		}
		s->scan = pos - s->in.start;
		if (step == WIRE_STEP_BAD) {
			/* The client gets the good packets before the bad one, then the error in
			 * the bad one's place (its sequence id), as after a lost connection. */
			gw_log_warn("S-%u: response out of protocol sync; closing", s->id);
			c = s->client;
			if (c && server_state(s) == GW_SV_ACTIVE && last_pkt > s->in.start)
				gw_client_forward(c, s->in.data + s->in.start,
				                  last_pkt - s->in.start);
			s->last_seq = (uint8_t)(s->in.data[last_pkt + 3] - 1);
			server_close(s, "protocol error from backend");
			return;
		}
		/* Forward what was parsed. */
		c = s->client;
		if (s->scan > 0) {
			if (c && server_state(s) == GW_SV_ACTIVE)
				gw_client_forward(c, s->in.data + s->in.start, s->scan);
			s->in.start += s->scan;
			s->scan = 0;
			if (s->in.start == s->in.end)
				s->in.start = s->in.end = 0;
		}
		if (server_state(s) == GW_SV_CLOSED)
			return;
		if (need && !gw_buf_reserve(&s->in, need)) {
			server_close(s, "out of memory");
			return;
		}
		c = s->client;
		if (step == WIRE_STEP_INFILE) {
			if (c)
				gw_client_infile_begin(c);
			return;
		}
		if (step == WIRE_STEP_DONE) {
			__atomic_store_n(&s->busy, false, __ATOMIC_RELEASE);
			if (server_state(s) == GW_SV_DRAIN) {
				/* What the statement left behind (a transaction, say) goes with
				 * the connection: MariaDB rolls it back. */
				server_set_state(s, GW_SV_ACTIVE);
				gw_server_release(s, /* reusable= */ false);
			} else if (c) {
				gw_client_response_done(c, s);
			}
			return;
		}
		return;
	}
}
