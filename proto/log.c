/*
 * log.c - leveled logging to stderr, one line per call, written with a single write()
 * so lines of different threads never interleave. Every message is escaped on its way
 * (gw_log_escape), so no byte a client sent can break a line or forge one (issue 11).
 */
#include "proto/log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

enum gw_log_level gw_log_level = GW_LOG_INFO;

static int log_fd = STDERR_FILENO; /* written with one write() per line */
static const char *log_path;       /* borrowed from argv; NULL = stderr */

bool gw_log_open(const char *path, char *err, size_t errlen)
{
	int fd;

	if (!path) {
		log_path = NULL;
		log_fd = STDERR_FILENO;
		return true;
	}
	fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
	if (fd < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return false;
	}
	log_path = path;
	/* dup2 keeps the descriptor number: a thread writing right now is never cut off. */
	if (log_fd == STDERR_FILENO) {
		log_fd = fd;
	} else {
		dup2(fd, log_fd);
		close(fd);
	}
	return true;
}

void gw_log_reopen(void)
{
	char err[256];

	if (!log_path)
		return;
	if (!gw_log_open(log_path, err, sizeof(err)))
		gw_log_error("reopening the log: %s", err);
}

static const char *const level_names[] = { "error", "warn", "info", "debug", "noise" };

bool gw_log_parse_level(const char *s, enum gw_log_level *out)
{
	for (size_t i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++) {
		if (strcasecmp(s, level_names[i]) == 0) {
			*out = (enum gw_log_level)i;
			return true;
		}
	}
	return false;
}

size_t gw_log_escape(char *dst, size_t dstlen, const char *src, size_t srclen)
{
	static const char hex[] = "0123456789abcdef";
	size_t k = 0;

	if (dstlen == 0)
		return 0;
	for (size_t i = 0; i < srclen; i++) {
		unsigned char ch = (unsigned char)src[i];

		if (ch == '\\') {
			if (k + 2 >= dstlen)
				break;
			dst[k++] = '\\';
			dst[k++] = '\\';
		} else if (ch >= 0x20 && ch < 0x7f) {
			if (k + 1 >= dstlen)
				break;
			dst[k++] = (char)ch;
		} else {
			if (k + 4 >= dstlen)
				break;
			dst[k++] = '\\';
			dst[k++] = 'x';
			dst[k++] = hex[ch >> 4];
			dst[k++] = hex[ch & 15];
		}
	}
	dst[k] = '\0';
	return k;
}

void gw_log_write(enum gw_log_level lvl, const char *fmt, ...)
{
	char msg[1024];
	char line[1024];
	struct timeval tv;
	struct tm tm;
	size_t n;
	int k;
	va_list ap;

	gettimeofday(&tv, NULL);
	gmtime_r(&tv.tv_sec, &tm);
	n = strftime(line, sizeof(line), "%Y-%m-%dT%H:%M:%S", &tm);
	k = snprintf(line + n, sizeof(line) - n, ".%03ldZ %s ", (long)tv.tv_usec / 1000,
	             level_names[lvl]);
	if (k > 0)
		n += (size_t)k;
	va_start(ap, fmt);
	k = vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (k > 0) {
		size_t mlen = (size_t)k < sizeof(msg) ? (size_t)k : sizeof(msg) - 1;

		/* room is left for the newline */
		n += gw_log_escape(line + n, sizeof(line) - n - 1, msg, mlen);
	}
	line[n++] = '\n';
	if (write(log_fd, line, n) < 0) {
		/* nowhere left to complain */
	}
}
