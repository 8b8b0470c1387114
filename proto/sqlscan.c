/*
 * sqlscan.c - see sqlscan.h. A tiny lexer: identifiers (compared upper-cased against a
 * short list of words), '@' outside quotes, and everything quoted or commented skipped.
 * It looks at words in isolation, not at grammar: a false positive only pins a client
 * (costs pooling, never correctness); the words were chosen so that false negatives
 * need deliberately odd SQL.
 */
#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "proto/sqlscan.h"

struct word {
	const char *text;
	size_t len;
	unsigned flag;
};

#define W(text, flag)                                                                              \
	{                                                                                          \
		text, sizeof(text) - 1, flag                                                       \
	}

static const struct word words[] = {
	W("GET_LOCK", SQL_LOCK),
	W("LOCK", SQL_LOCK), /* LOCK TABLES; also "FOR UPDATE ... LOCK IN SHARE MODE" */
	W("SQL_CALC_FOUND_ROWS", SQL_FOUND_ROWS),
	W("FOUND_ROWS", SQL_FOUND_ROWS),
	W("TEMPORARY", SQL_TEMPORARY),
	W("PREPARE", SQL_PREPARE),
	W("DEALLOCATE", SQL_PREPARE),
	W("XA", SQL_XA),
	W("LAST_INSERT_ID", SQL_LAST_INSERT_ID),
	W("HANDLER", SQL_HANDLER),
	W("CONNECTION_ID", SQL_CONNECTION_ID),
	W("KILL", SQL_KILL),
	/* information_schema.USER_VARIABLES reads every user variable: the connection's
	 * become the session's first (others' NULL), as for a statement that names one */
	W("USER_VARIABLES", SQL_USER_VAR | SQL_UVAR_LIST),
	W("ROW_COUNT", SQL_ROW_COUNT),
	W("PROCESSLIST", SQL_PROCESSLIST),
	/* the diagnostics area: SHOW WARNINGS, SHOW COUNT(*) ERRORS, GET DIAGNOSTICS (and
	 * @@warning_count, @@error_count, below) */
	W("WARNINGS", SQL_DIAG),
	W("ERRORS", SQL_DIAG),
	W("DIAGNOSTICS", SQL_DIAG),
	/* statements that may use a table (the rest keep the diagnostics area) */
	W("FROM", SQL_TABLES),
	W("INTO", SQL_TABLES),
	W("UPDATE", SQL_TABLES),
	W("INSERT", SQL_TABLES),
	W("DELETE", SQL_TABLES),
	W("REPLACE", SQL_TABLES),
	W("TABLE", SQL_TABLES),
	W("TABLES", SQL_TABLES),
	W("CALL", SQL_TABLES),
	W("LOAD", SQL_TABLES),
	W("TRUNCATE", SQL_TABLES),
	W("ALTER", SQL_TABLES),
	W("CREATE", SQL_TABLES),
	W("DROP", SQL_TABLES),
	W("RENAME", SQL_TABLES),
	W("GRANT", SQL_TABLES),
	W("REVOKE", SQL_TABLES),
	W("SHOW", SQL_TABLES),
	W("DESCRIBE", SQL_TABLES),
	W("DESC", SQL_TABLES),
	W("EXPLAIN", SQL_TABLES),
	W("ANALYZE", SQL_TABLES),
	W("CHECK", SQL_TABLES),
	W("OPTIMIZE", SQL_TABLES),
	W("REPAIR", SQL_TABLES),
	W("FLUSH", SQL_TABLES),
	W("EXECUTE", SQL_TABLES),
};

static int is_ident(uint8_t ch)
{
	return isalnum(ch) || ch == '_' || ch == '$' || ch >= 0x80;
}

static unsigned classify(const uint8_t *w, size_t n)
{
	char up[24];

	if (n >= sizeof(up))
		return 0;
	for (size_t i = 0; i < n; i++)
		up[i] = (char)toupper(w[i]);
	up[n] = '\0';
	for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
		if (words[i].len == n && memcmp(up, words[i].text, n) == 0)
			return words[i].flag;
	}
	return 0;
}

/* Does a comment (or an executable comment's opening) start at q[i]? */
static bool comment_at(const uint8_t *q, size_t i, size_t n)
{
	return q[i] == '#' ||
	       (q[i] == '-' && i + 2 < n && q[i + 1] == '-' &&
	        (q[i + 2] == ' ' || q[i + 2] == '\t')) ||
	       (q[i] == '/' && i + 1 < n && q[i + 1] == '*');
}

/* Does the word at q[i] read SET or USE (any case), and end there? */
static bool set_or_use_at(const uint8_t *q, size_t i, size_t n)
{
	return i + 3 <= n && (i + 3 == n || !is_ident(q[i + 3])) &&
	       (strncasecmp((const char *)q + i, "SET", 3) == 0 ||
	        strncasecmp((const char *)q + i, "USE", 3) == 0);
}

/* Does the word at q[i] read w (upper case, any case in q), and end there? */
static bool word_at(const uint8_t *q, size_t i, size_t n, const char *w)
{
	size_t k = strlen(w);

	return i + k <= n && (i + k == n || !is_ident(q[i + k])) &&
	       strncasecmp((const char *)q + i, w, k) == 0;
}

/* Note the user variable whose name starts at q[i] (after the '@'); the flags it adds. */
static unsigned uvar_at(const uint8_t *q, size_t i, size_t n, struct sql_uvars *vars)
{
	size_t k = 0;
	char name[SQL_UVAR_NAME_MAX + 1];

	while (i + k < n && is_ident(q[i + k]))
		k++;
	/* Quoted (@`a b`), '$' or bytes outside ASCII in the name, or a name too long: not
	 * written into a SET by sluice. */
	if (k == 0 || k > SQL_UVAR_NAME_MAX || (i + k < n && q[i + k] == '.'))
		return SQL_UVAR_PIN;
	for (size_t j = 0; j < k; j++) {
		if (q[i + j] == '$' || q[i + j] >= 0x80)
			return SQL_UVAR_PIN;
		name[j] = (char)tolower(q[i + j]);
	}
	name[k] = '\0';
	if (!vars)
		return 0;
	for (uint32_t j = 0; j < vars->n; j++) {
		if (strcmp(vars->name[j], name) == 0)
			return 0;
	}
	if (vars->n == SQL_UVARS_MAX)
		return SQL_UVAR_PIN;
	memcpy(vars->name[vars->n++], name, k + 1);
	return 0;
}

/* After LAST_INSERT_ID at q[i]: "(" and something other than ")" is the form that sets. */
static bool lid_has_arg(const uint8_t *q, size_t i, size_t n)
{
	while (i < n && isspace(q[i]))
		i++;
	if (i >= n || q[i] != '(')
		return false;
	for (i++; i < n && isspace(q[i]); i++)
		;
	return i < n && q[i] != ')';
}

/* The end of the quoted text or comment that starts at q[i], or i if none does. With
 * no_backslash a backslash inside quotes is an ordinary character. */
static size_t skip_opaque(const uint8_t *q, size_t i, size_t n, bool no_backslash)
{
	uint8_t ch = q[i];

	if (ch == '\'' || ch == '"' || ch == '`') {
		i++;
		while (i < n) {
			if (q[i] == '\\' && ch != '`' && !no_backslash && i + 1 < n) {
				i += 2;
				continue;
			}
			if (q[i] == ch) {
				if (i + 1 < n && q[i + 1] == ch) {
					i += 2;
					continue;
				}
				break;
			}
			i++;
		}
		return i < n ? i + 1 : n;
	}
	if (ch == '/' && i + 1 < n && q[i + 1] == '*') {
		if (i + 2 < n && (q[i + 2] == '!' || q[i + 2] == 'M')) {
			/* Executable comment: only its opening and version are skipped. */
			i += 3;
			if (q[i - 1] == 'M' && i < n && q[i] == '!')
				i++;
			while (i < n && isdigit(q[i]))
				i++;
			return i;
		}
		i += 2;
		while (i + 1 < n && !(q[i] == '*' && q[i + 1] == '/'))
			i++;
		return i + 2 < n ? i + 2 : n;
	}
	if (comment_at(q, i, n)) {
		while (i < n && q[i] != '\n')
			i++;
		return i;
	}
	return i;
}

static unsigned scan(const uint8_t *q, size_t n, bool no_backslash, struct sql_uvars *vars)
{
	unsigned flags = 0;
	bool is_set = false, assigns = false; /* a SET statement; ':=' or INTO seen */
	size_t i = 0;
	bool at_start = true; /* no token of the current statement seen yet */

	while (i < n) {
		uint8_t ch = q[i];

		if (at_start && !isspace(ch) && ch != ';' && !comment_at(q, i, n)) {
			/* The first token of a statement. */
			if (!set_or_use_at(q, i, n))
				flags |= SQL_NOT_SET_USE;
			else if (word_at(q, i, n, "SET"))
				is_set = true;
			if (word_at(q, i, n, "BEGIN") || word_at(q, i, n, "START"))
				flags |= SQL_TRANS;
			at_start = false;
		}
		if (ch == '\'' || ch == '"' || ch == '`' || comment_at(q, i, n)) {
			/* Quoted text and comments, but not MariaDB's executable comments
			 * (/ *! 40101 ... or / *M! 100101 ...): their opening and version only. */
			i = skip_opaque(q, i, n, no_backslash);
		} else if (ch == '@') {
			if (i + 1 < n && q[i + 1] == '@') {
				/* @@system_variable: skip its name ([session.]name) */
				size_t w;

				i += 2;
				for (w = i; i < n && (is_ident(q[i]) || q[i] == '.'); i++)
					if (q[i] == '.')
						w = i + 1;
				if ((i - w == 13 &&
				     strncasecmp((const char *)q + w, "warning_count", 13) == 0) ||
				    (i - w == 11 &&
				     strncasecmp((const char *)q + w, "error_count", 11) == 0))
					flags |= SQL_DIAG;
				continue;
			}
			if (i + 1 < n && (is_ident(q[i + 1]) || q[i + 1] == '`' ||
			                  q[i + 1] == '\'' || q[i + 1] == '"'))
				flags |= SQL_USER_VAR | uvar_at(q, i + 1, n, vars);
			/* the name is not a word of its own (@lock, @row_count) */
			for (i++; i < n && is_ident(q[i]);)
				i++;
		} else if (is_ident(ch) && !isdigit(ch)) {
			size_t start = i;

			while (i < n && is_ident(q[i]))
				i++;
			unsigned f = classify(q + start, i - start);

			if (f == SQL_LAST_INSERT_ID && lid_has_arg(q, i, n))
				f |= SQL_LID_SET;
			if (word_at(q, start, n, "INTO"))
				assigns = true;
			flags |= f;
		} else {
			if (ch == ';')
				at_start = true;
			if (ch == ':' && i + 1 < n && q[i + 1] == '=')
				assigns = true;
			i++;
		}
	}
	if ((flags & SQL_USER_VAR) && (is_set || assigns))
		flags |= SQL_UVAR_WRITE;
	return flags;
}

unsigned sql_scan(const uint8_t *q, size_t n)
{
	return scan(q, n, false, NULL);
}

unsigned sql_scan_vars(const uint8_t *q, size_t n, bool no_backslash, struct sql_uvars *vars)
{
	vars->n = 0;
	return scan(q, n, no_backslash, vars);
}

/* Parse KILL [QUERY | CONNECTION] <number> [;]. */
bool sql_kill_parse(const uint8_t *q, size_t n, bool *query_only, uint32_t *id)
{
	char buf[96], *p, *end;
	size_t k = 0;
	unsigned long long v;

	if (n >= sizeof(buf))
		return false;
	for (size_t i = 0; i < n; i++)
		buf[k++] = (char)q[i];
	buf[k] = '\0';
	p = buf;
	while (isspace((unsigned char)*p))
		p++;
	if (strncasecmp(p, "kill", 4) != 0 || !isspace((unsigned char)p[4]))
		return false;
	p += 4;
	while (isspace((unsigned char)*p))
		p++;
	*query_only = false;
	if (strncasecmp(p, "query", 5) == 0 && isspace((unsigned char)p[5])) {
		*query_only = true;
		p += 5;
	} else if (strncasecmp(p, "connection", 10) == 0 && isspace((unsigned char)p[10])) {
		p += 10;
	}
	while (isspace((unsigned char)*p))
		p++;
	if (!isdigit((unsigned char)*p))
		return false;
	errno = 0;
	v = strtoull(p, &end, 10);
	if (errno || v > UINT32_MAX)
		return false;
	while (isspace((unsigned char)*end) || *end == ';')
		end++;
	if (*end)
		return false;
	*id = (uint32_t)v;
	return true;
}

/* The end of a NAME ( ) call whose name ends at q[i], or 0 if none. */
static size_t empty_call_end(const uint8_t *q, size_t i, size_t n)
{
	while (i < n && isspace(q[i]))
		i++;
	if (i >= n || q[i] != '(')
		return 0;
	i++;
	while (i < n && isspace(q[i]))
		i++;
	if (i >= n || q[i] != ')')
		return 0;
	return i + 1;
}

/* Which function the word q[i..j) calls, if one sql_subst() rewrites (a call of the
 * function itself: not a column t.ROW_COUNT, a variable @ROW_COUNT, db.ROW_COUNT()). */
static enum sql_fn subst_fn(const uint8_t *q, size_t i, size_t j, const struct sql_subst_how *how,
                            bool first_stmt)
{
	if (i > 0 && (q[i - 1] == '.' || q[i - 1] == '@' || is_ident(q[i - 1])))
		return SQL_FN_NONE;
	if (how->connid && j - i == 13 &&
	    strncasecmp((const char *)q + i, "CONNECTION_ID", 13) == 0)
		return SQL_FN_CONNECTION_ID;
	if (how->row_count && first_stmt && j - i == 9 &&
	    strncasecmp((const char *)q + i, "ROW_COUNT", 9) == 0)
		return SQL_FN_ROW_COUNT;
	return SQL_FN_NONE;
}

/* value as a decimal literal exactly len long (zeros after a minus sign), into out;
 * false when it does not fit. */
static bool padded_literal(char *out, size_t len, int64_t value)
{
	char digits[24];
	uint64_t mag = value < 0 ? (uint64_t)0 - (uint64_t)value : (uint64_t)value;
	size_t nd = (size_t)snprintf(digits, sizeof(digits), "%llu", (unsigned long long)mag);
	size_t sign = value < 0;

	if (nd + sign > len)
		return false;
	memset(out, '0', len);
	if (sign)
		out[0] = '-';
	memcpy(out + len - nd, digits, nd);
	return true;
}

size_t sql_subst(uint8_t *q, size_t n, const struct sql_subst_how *how, struct sql_sub *subs,
                 size_t max)
{
	size_t i = 0, count = 0;
	bool at_start = true, first_stmt = true;
	char lit[256];

	while (i < n) {
		uint8_t ch = q[i];
		size_t j = skip_opaque(q, i, n, how->no_backslash);
		enum sql_fn fn;

		if (j != i) {
			i = j;
			continue;
		}
		if (ch == ';') {
			at_start = true;
			first_stmt = false;
			i++;
			continue;
		}
		if (!is_ident(ch) || isdigit(ch)) {
			if (!isspace(ch))
				at_start = false; /* "(SELECT ...": not a definition */
			i++;
			continue;
		}
		j = i;
		while (j < n && is_ident(q[j]))
			j++;
		/* A stored program's body has statements of its own (CREATE PROCEDURE p()
		 * BEGIN DECLARE x INT; SET x = CONNECTION_ID(); END): once a definition
		 * begins, the rest of the packet is left as it is. */
		if (at_start && (word_at(q, i, n, "CREATE") || word_at(q, i, n, "ALTER")))
			break;
		at_start = false;
		fn = subst_fn(q, i, j, how, first_stmt);
		if (fn != SQL_FN_NONE) {
			size_t end = empty_call_end(q, j, n);
			size_t len = end - i;

			if (end && len < sizeof(lit) &&
			    padded_literal(lit, len,
			                   fn == SQL_FN_CONNECTION_ID ? (int64_t)how->id
			                                              : how->rows)) {
				if (count < max) {
					size_t keep =
					    len < SQL_CONNID_TEXT_MAX ? len : SQL_CONNID_TEXT_MAX;

					subs[count].len = (uint8_t)len;
					subs[count].fn = (uint8_t)fn;
					memcpy(subs[count].text, q + i, keep);
					memcpy(subs[count].lit, lit, keep);
				}
				memcpy(q + i, lit, len);
				count++;
				i = end;
				continue;
			}
		}
		i = j;
	}
	return count;
}

enum sql_fn sql_subst_unname(uint8_t *name, size_t n, const struct sql_sub *subs, size_t nsubs)
{
	enum sql_fn whole = SQL_FN_NONE;

	for (size_t k = 0; k < nsubs; k++) {
		size_t len = subs[k].len;
		bool seen = false;

		if (len > SQL_CONNID_TEXT_MAX || len > n)
			continue; /* too long to have been kept */
		for (size_t m = 0; m < k; m++)
			seen = seen ||
			       (subs[m].len == len && memcmp(subs[m].lit, subs[k].lit, len) == 0);
		if (seen)
			continue; /* the same literal: the first call of its kind names it */
		for (size_t at = 0; at + len <= n;) {
			if (memcmp(name + at, subs[k].lit, len) == 0 &&
			    (at == 0 || !isdigit(name[at - 1])) &&
			    (at + len == n || !isdigit(name[at + len]))) {
				memcpy(name + at, subs[k].text, len);
				if (at == 0 && len == n)
					whole = (enum sql_fn)subs[k].fn;
				at += len;
			} else {
				at++;
			}
		}
	}
	return whole;
}

bool sql_parse_use(const uint8_t *q, size_t n, char *out, size_t outlen)
{
	size_t i = 0, k = 0;
	char quote = 0;

	while (i < n && isspace(q[i]))
		i++;
	if (n - i < 4 || strncasecmp((const char *)q + i, "use", 3) != 0 || !isspace(q[i + 3]))
		return false;
	i += 3;
	while (i < n && isspace(q[i]))
		i++;
	if (i < n && (q[i] == '`' || q[i] == '"')) {
		quote = (char)q[i];
		i++;
	}
	while (i < n && k + 1 < outlen) {
		if (quote ? q[i] == (uint8_t)quote : (isspace(q[i]) || q[i] == ';'))
			break;
		out[k++] = (char)q[i++];
	}
	out[k] = '\0';
	if (quote) {
		if (i >= n)
			return false;
		i++;
	}
	while (i < n && (isspace(q[i]) || q[i] == ';'))
		i++;
	return k > 0 && i == n;
}

/* Does q (n bytes) contain word, in any case, as a word of its own (not inside
 * my_session_status or session_status_log)? */
static bool contains_word(const uint8_t *q, size_t n, const char *word)
{
	size_t wl = strlen(word);

	for (size_t i = 0; i + wl <= n; i++) {
		if (strncasecmp((const char *)q + i, word, wl) == 0 &&
		    (i == 0 || !is_ident(q[i - 1])) && (i + wl == n || !is_ident(q[i + wl])))
			return true;
	}
	return false;
}

bool sql_reads_status(const uint8_t *q, size_t n)
{
	size_t i = 0;

	if (n > 4096)
		return false;
	while (i < n && isspace(q[i]))
		i++;
	if (n - i >= 4 && strncasecmp((const char *)q + i, "show", 4) == 0)
		return contains_word(q + i, n - i, "status");
	return contains_word(q, n, "session_status") || contains_word(q, n, "global_status");
}
