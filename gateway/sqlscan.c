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
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "gateway/sqlscan.h"

struct word {
	const char *text;
	unsigned flag;
};

static const struct word words[] = {
	{ "GET_LOCK", SQL_LOCK },
	{ "LOCK", SQL_LOCK }, /* LOCK TABLES; also "FOR UPDATE ... LOCK IN SHARE MODE" */
	{ "SQL_CALC_FOUND_ROWS", SQL_FOUND_ROWS },
	{ "FOUND_ROWS", SQL_FOUND_ROWS },
	{ "TEMPORARY", SQL_TEMPORARY },
	{ "PREPARE", SQL_PREPARE },
	{ "DEALLOCATE", SQL_PREPARE },
	{ "XA", SQL_XA },
	{ "LAST_INSERT_ID", SQL_LAST_INSERT_ID },
	{ "HANDLER", SQL_HANDLER },
	{ "CONNECTION_ID", SQL_CONNECTION_ID },
	{ "KILL", SQL_KILL },
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
		if (strcmp(up, words[i].text) == 0)
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

static unsigned scan(const uint8_t *q, size_t n, struct sql_uvars *vars)
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
		if (ch == '\'' || ch == '"' || ch == '`') {
			/* Quoted: skip to the closing quote; doubled quotes and \x escapes. */
			i++;
			while (i < n) {
				if (q[i] == '\\' && ch != '`' && i + 1 < n) {
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
			i++;
		} else if (ch != '/' && comment_at(q, i, n)) {
			while (i < n && q[i] != '\n')
				i++;
		} else if (ch == '/' && i + 1 < n && q[i + 1] == '*') {
			/* Comments, but not MariaDB's executable ones: those are read. */
			if (i + 2 < n && (q[i + 2] == '!' || q[i + 2] == 'M')) {
				/* skip the opening and the version: / * ! 40101 or / * M ! 100101
				 */
				i += 3;
				if (q[i - 1] == 'M' && i < n && q[i] == '!')
					i++;
				while (i < n && isdigit(q[i]))
					i++;
				continue;
			}
			i += 2;
			while (i + 1 < n && !(q[i] == '*' && q[i + 1] == '/'))
				i++;
			i += 2;
		} else if (ch == '@') {
			if (i + 1 < n && q[i + 1] == '@') {
				/* @@system_variable: skip its name */
				i += 2;
				while (i < n && (is_ident(q[i]) || q[i] == '.'))
					i++;
				continue;
			}
			if (i + 1 < n && (is_ident(q[i + 1]) || q[i + 1] == '`' ||
			                  q[i + 1] == '\'' || q[i + 1] == '"'))
				flags |= SQL_USER_VAR | uvar_at(q, i + 1, n, vars);
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
	return scan(q, n, NULL);
}

unsigned sql_scan_vars(const uint8_t *q, size_t n, struct sql_uvars *vars)
{
	vars->n = 0;
	return scan(q, n, vars);
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
