/*
 * uvars.c - capture and replay of user variables and LAST_INSERT_ID() (see uvars.h).
 */
#include <stdio.h>
#include <string.h>

#include "proto/uvars.h"

/* Field types (include/mysql_com.h's enum_field_types), as the column definitions say. */
enum {
	FT_DECIMAL = 0,
	FT_TINY = 1,
	FT_SHORT = 2,
	FT_LONG = 3,
	FT_FLOAT = 4,
	FT_DOUBLE = 5,
	FT_NULL = 6,
	FT_LONGLONG = 8,
	FT_INT24 = 9,
	FT_VARCHAR = 15,
	FT_NEWDECIMAL = 246,
	FT_BLOB_FIRST = 249, /* TINY_BLOB .. BLOB, VAR_STRING, STRING */
	FT_STRING = 254,
};

/* What a user variable holds, by its column's field type. */
enum uvar_kind { UV_NONE, UV_INT, UV_DECIMAL, UV_DOUBLE, UV_STRING };

static enum uvar_kind uvar_kind(uint8_t type)
{
	switch (type) {
	case FT_TINY:
	case FT_SHORT:
	case FT_LONG:
	case FT_INT24:
	case FT_LONGLONG:
		return UV_INT;
	case FT_DECIMAL:
	case FT_NEWDECIMAL:
		return UV_DECIMAL;
	case FT_FLOAT:
	case FT_DOUBLE:
		return UV_DOUBLE;
	case FT_VARCHAR:
	case FT_BLOB_FIRST:
	case FT_BLOB_FIRST + 1:
	case FT_BLOB_FIRST + 2:
	case FT_BLOB_FIRST + 3:
	case FT_BLOB_FIRST + 4:
	case FT_STRING:
		return UV_STRING;
	default:
		return UV_NONE; /* no user variable has another type */
	}
}

static void put_str(struct wire_buf *b, const char *s)
{
	wire_put_bytes(b, s, strlen(s));
}

bool gw_capture_begin(struct gw_capture *cap, struct wire_buf *b, bool lid,
                      const struct sql_uvars *names, bool deprecate_eof,
                      const struct gw_vars *known)
{
	static const char *const fn[GW_CAP_COLS_PER_VAR] = { "HEX", "CHARSET", "COLLATION", "" };
	bool first = true;
	size_t off;

	memset(cap, 0, sizeof(*cap));
	if (!lid && (!names || names->n == 0))
		return false;
	cap->lid = lid;
	if (names)
		cap->names = *names;
	cap->deprecate_eof = deprecate_eof;
	cap->known = known;
	off = wire_packet_begin(b, 0);
	wire_put_u8(b, COM_QUERY);
	put_str(b, "SELECT ");
	if (lid) {
		put_str(b, "LAST_INSERT_ID()");
		first = false;
	}
	/* Names are [a-z0-9_] (sqlscan.c): written as they are. */
	for (uint32_t i = 0; i < cap->names.n; i++) {
		for (int k = 0; k < GW_CAP_COLS_PER_VAR; k++) {
			if (!first)
				wire_put_u8(b, ',');
			first = false;
			put_str(b, fn[k]);
			put_str(b, fn[k][0] ? "(@" : "@");
			put_str(b, cap->names.name[i]);
			if (fn[k][0])
				wire_put_u8(b, ')');
		}
	}
	if (known) {
		if (!first)
			wire_put_u8(b, ',');
		put_str(b, "(SELECT GROUP_CONCAT(VARIABLE_NAME) FROM "
		           "information_schema.USER_VARIABLES WHERE VARIABLE_VALUE IS NOT NULL)");
	}
	wire_packet_end(b, off);
	return true;
}

/* Is every name in the comma-separated list s[0..n) (MariaDB's case) one of known's or
 * the capture's (lower case)? */
static bool names_all_known(const struct gw_capture *cap, const uint8_t *s, size_t n)
{
	size_t i = 0;

	while (i < n) {
		char name[SQL_UVAR_NAME_MAX + 1];
		size_t k = 0;
		bool found = false;

		for (; i < n && s[i] != ','; i++) {
			if (k == SQL_UVAR_NAME_MAX)
				return false; /* longer than any name sluice writes */
			name[k++] = (char)(s[i] >= 'A' && s[i] <= 'Z' ? s[i] - 'A' + 'a' : s[i]);
		}
		i++; /* the comma */
		name[k] = '\0';
		for (uint32_t j = 0; j < cap->names.n && !found; j++)
			found = strcmp(cap->names.name[j], name) == 0;
		if (!found && !gw_vars_get(cap->known, name))
			return false;
	}
	return true;
}

static bool all_of(const uint8_t *s, size_t n, const char *set)
{
	for (size_t i = 0; i < n; i++) {
		if (!s[i] || !strchr(set, s[i]))
			return false;
	}
	return n > 0;
}

/* [-]digits, [-]digits.digits */
static bool is_decimal(const uint8_t *s, size_t n)
{
	size_t i = n > 0 && s[0] == '-';
	bool dot = false, digit = false;

	for (; i < n; i++) {
		if (s[i] == '.' && !dot && digit)
			dot = true;
		else if (s[i] >= '0' && s[i] <= '9')
			digit = true;
		else
			return false;
	}
	return digit && s[n - 1] != '.';
}

bool gw_uvar_literal(char *out, size_t outlen, uint8_t type, const uint8_t *num, size_t numlen,
                     const uint8_t *hex, size_t hexlen, const uint8_t *charset, size_t cslen,
                     const uint8_t *collation, size_t colllen)
{
	int k;

	switch (uvar_kind(type)) {
	case UV_INT:
		if (!is_decimal(num, numlen) || memchr(num, '.', numlen))
			return false;
		k = snprintf(out, outlen, "%.*s", (int)numlen, (const char *)num);
		break;
	case UV_DECIMAL:
		/* Written as it reads: 1.50 stays a DECIMAL with two decimals. */
		if (!is_decimal(num, numlen))
			return false;
		k = snprintf(out, outlen, "%.*s", (int)numlen, (const char *)num);
		break;
	case UV_DOUBLE:
		/* MariaDB writes a double with the digits that read back to the same value
		 * (0.30000000000000004, 1e300); an exponent makes the literal a DOUBLE. */
		if (!all_of(num, numlen, "-+.0123456789eE") ||
		    !(num[0] == '-' || (num[0] >= '0' && num[0] <= '9')))
			return false;
		k = snprintf(out, outlen, "%.*s%s", (int)numlen, (const char *)num,
		             memchr(num, 'e', numlen) || memchr(num, 'E', numlen) ? "" : "e0");
		break;
	case UV_STRING:
		/* The bytes in their own character set, whatever character_set_results
		 * would have made of them: _cs X'..' COLLATE `coll` (quoted: "binary" is
		 * also a keyword). */
		if (hexlen % 2 || (hexlen && !all_of(hex, hexlen, "0123456789ABCDEF")) ||
		    !all_of(charset, cslen, "abcdefghijklmnopqrstuvwxyz0123456789_") ||
		    !all_of(collation, colllen, "abcdefghijklmnopqrstuvwxyz0123456789_"))
			return false;
		k = snprintf(out, outlen, "_%.*s X'%.*s' COLLATE `%.*s`", (int)cslen,
		             (const char *)charset, (int)hexlen, (const char *)hex, (int)colllen,
		             (const char *)collation);
		break;
	default:
		return false;
	}
	return k > 0 && (size_t)k < outlen;
}

/* A NULL keeps the type of the variable it was assigned to (SET @n = 5; SET @n = NULL:
 * @n is a NULL integer); a string NULL reads like a variable never set. */
static const char *null_literal(uint8_t type)
{
	switch (uvar_kind(type)) {
	case UV_INT:
		return "CAST(NULL AS SIGNED)";
	case UV_DECIMAL:
		return "CAST(NULL AS DECIMAL)";
	case UV_DOUBLE:
		return "CAST(NULL AS DOUBLE)";
	default:
		return NULL;
	}
}

/* Skip a column definition's fields up to its type; false when malformed. */
static bool coldef_type(const uint8_t *p, size_t n, uint8_t *type)
{
	struct wire_cur c = wire_cur_init(p, n);
	const uint8_t *s;
	size_t len;
	uint16_t charset;
	uint32_t length;

	for (int i = 0; i < 6; i++) { /* catalog, schema, table, org_table, name, org_name */
		if (!wire_get_lenenc_str(&c, &s, &len))
			return false;
	}
	/* MariaDB's extended metadata (MARIADB_CLIENT_EXTENDED_METADATA) puts one more
	 * string here; the fixed part is 0x0c and twelve bytes. */
	if (!(wire_cur_left(&c) == 13 && c.p[c.off] == 0x0c) && !wire_get_lenenc_str(&c, &s, &len))
		return false;
	return wire_cur_left(&c) == 13 && wire_get_u8(&c, type) && *type == 0x0c &&
	       wire_get_u16(&c, &charset) && wire_get_u32(&c, &length) && wire_get_u8(&c, type);
}

/* The row: LAST_INSERT_ID(), then four values per variable. */
static enum gw_capture_step capture_row(struct gw_capture *cap, const uint8_t *p, size_t n,
                                        struct gw_vars *uv)
{
	struct wire_cur c = wire_cur_init(p, n);
	bool ok = true;

	if (cap->lid) {
		const uint8_t *s;
		size_t len;
		uint64_t v = 0;

		if (!wire_get_lenenc_str(&c, &s, &len) || len == 0 || len > 20)
			return GW_CAP_BAD;
		for (size_t i = 0; i < len; i++) {
			if (s[i] < '0' || s[i] > '9')
				return GW_CAP_BAD;
			v = v * 10 + (uint64_t)(s[i] - '0');
		}
		cap->lid_value = v;
	}
	for (uint32_t i = 0; i < cap->names.n; i++) {
		const uint8_t *f[GW_CAP_COLS_PER_VAR];
		size_t flen[GW_CAP_COLS_PER_VAR];
		bool null[GW_CAP_COLS_PER_VAR];
		const char *name = cap->names.name[i];
		char lit[GW_VAR_VALUE_MAX + 1];

		for (int k = 0; k < GW_CAP_COLS_PER_VAR; k++) {
			null[k] = false;
			f[k] = NULL;
			flen[k] = 0;
			if (wire_cur_left(&c) > 0 && c.p[c.off] == 0xfb) {
				c.off++;
				null[k] = true;
			} else if (!wire_get_lenenc_str(&c, &f[k], &flen[k])) {
				return GW_CAP_BAD;
			}
		}
		if (null[3]) {
			const char *nl = null_literal(cap->type[i]);

			if (!nl)
				gw_vars_remove(uv, name);
			else if (!gw_vars_set_literal(uv, name, strlen(name), nl, strlen(nl)))
				ok = false;
			continue;
		}
		if (null[0] || null[1] || null[2] ||
		    !gw_uvar_literal(lit, sizeof(lit), cap->type[i], f[3], flen[3], f[0], flen[0],
		                     f[1], flen[1], f[2], flen[2]) ||
		    !gw_vars_set_literal(uv, name, strlen(name), lit, strlen(lit))) {
			gw_vars_remove(uv, name); /* not replayable: the session pins instead */
			ok = false;
		}
	}
	if (cap->known) {
		const uint8_t *s;
		size_t len;

		if (wire_cur_left(&c) > 0 && c.p[c.off] == 0xfb)
			c.off++; /* none at all */
		else if (!wire_get_lenenc_str(&c, &s, &len))
			return GW_CAP_BAD;
		else if (!names_all_known(cap, s, len))
			ok = false; /* set by what the statement called: not read back */
	}
	if (wire_cur_left(&c) != 0)
		return GW_CAP_BAD;
	return ok ? GW_CAP_MORE : GW_CAP_FAIL;
}

enum gw_capture_step gw_capture_feed(struct gw_capture *cap, const uint8_t *p, size_t n,
                                     struct gw_vars *uv)
{
	uint32_t ncols =
	    (cap->lid ? 1u : 0u) + cap->names.n * GW_CAP_COLS_PER_VAR + (cap->known ? 1u : 0u);
	bool eof = n > 0 && n < 9 && p[0] == 0xfe;
	enum gw_capture_step step;

	if (n == 0 || cap->state == GW_CAP_DONE)
		return GW_CAP_BAD;
	if (p[0] == 0xff) { /* refused (the state was left as it was) */
		cap->state = GW_CAP_DONE;
		return cap->col == 0 ? GW_CAP_FAIL : GW_CAP_BAD;
	}
	switch (cap->state) {
	case GW_CAP_COUNT:
		if (n != 1 || p[0] != ncols)
			return GW_CAP_BAD;
		cap->state = GW_CAP_COLS;
		return GW_CAP_MORE;
	case GW_CAP_COLS: {
		uint32_t i = cap->col++;
		uint8_t type;

		if (!coldef_type(p, n, &type))
			return GW_CAP_BAD;
		if (i >= (cap->lid ? 1u : 0u) && i < ncols - (cap->known ? 1u : 0u)) {
			i -= cap->lid ? 1u : 0u;
			if (i % GW_CAP_COLS_PER_VAR == GW_CAP_COLS_PER_VAR - 1)
				cap->type[i / GW_CAP_COLS_PER_VAR] = type;
		}
		if (cap->col == ncols)
			cap->state = cap->deprecate_eof ? GW_CAP_ROW : GW_CAP_COLS_EOF;
		return GW_CAP_MORE;
	}
	case GW_CAP_COLS_EOF:
		if (!eof)
			return GW_CAP_BAD;
		cap->state = GW_CAP_ROW;
		return GW_CAP_MORE;
	case GW_CAP_ROW:
		if (eof || p[0] == 0xfe)
			return GW_CAP_BAD; /* no row */
		step = capture_row(cap, p, n, uv);
		if (step == GW_CAP_BAD)
			return step;
		cap->state = GW_CAP_END;
		cap->unreplayable = step == GW_CAP_FAIL;
		return GW_CAP_MORE;
	case GW_CAP_END:
		if (p[0] != 0xfe)
			return GW_CAP_BAD;
		cap->state = GW_CAP_DONE;
		return cap->unreplayable ? GW_CAP_FAIL : GW_CAP_OK;
	case GW_CAP_DONE:
		break;
	}
	return GW_CAP_BAD;
}

void gw_uvars_put_set(struct wire_buf *b, const struct gw_vars *want, const struct gw_vars *have,
                      bool *first)
{
	for (uint32_t i = 0; i < have->n; i++) {
		if (gw_vars_get(want, have->v[i].name))
			continue;
		put_str(b, *first ? " @" : ", @");
		*first = false;
		put_str(b, have->v[i].name);
		put_str(b, "=NULL");
	}
	for (uint32_t i = 0; i < want->n; i++) {
		const struct gw_var *cur = gw_vars_get(have, want->v[i].name);

		if (cur && strcmp(cur->value, want->v[i].value) == 0)
			continue;
		put_str(b, *first ? " @" : ", @");
		*first = false;
		put_str(b, want->v[i].name);
		wire_put_u8(b, '=');
		put_str(b, want->v[i].value);
	}
}
