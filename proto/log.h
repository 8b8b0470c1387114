/*
 * log.h - leveled logging to stderr. The level is tested before anything is formatted;
 * gw_clog_* prefixes the connection ("C-12 alice@127.0.0.1:5000").
 */
#ifndef SLUICE_LOG_H
#define SLUICE_LOG_H

#include <stdbool.h>
#include <stddef.h>

enum gw_log_level {
	GW_LOG_ERROR = 0,
	GW_LOG_WARN,
	GW_LOG_INFO,
	GW_LOG_DEBUG,
	GW_LOG_NOISE,
};

extern enum gw_log_level gw_log_level;

bool gw_log_parse_level(const char *s, enum gw_log_level *out);
/* Log to this file (appending) instead of stderr; NULL = stderr. false + errno text. */
bool gw_log_open(const char *path, char *err, size_t errlen);
/* Reopen the log file (SIGHUP, after logrotate moved it). */
void gw_log_reopen(void);
/*
 * Write one line. The formatted message goes through gw_log_escape(), so a client's
 * bytes (user and schema names, addresses, query text, relayed errors) can never start a
 * line of their own or smuggle terminal escapes into the log (issue 11).
 */
void gw_log_write(enum gw_log_level lvl, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/*
 * Copy src[0, srclen) to dst for a log line: printable ASCII stays, a backslash becomes
 * "\\", every other byte (control characters, DEL, NUL, bytes >= 0x80) becomes "\xNN".
 * dst is always NUL-terminated (dstlen >= 1) and never ends in half an escape: what does
 * not fit is dropped. Returns the length written, without the NUL.
 */
size_t gw_log_escape(char *dst, size_t dstlen, const char *src, size_t srclen);

#define gw_log_at(lvl, ...)                                                                        \
	do {                                                                                       \
		if ((lvl) <= gw_log_level)                                                         \
			gw_log_write((lvl), __VA_ARGS__);                                          \
	} while (0)
#define gw_log_error(...) gw_log_at(GW_LOG_ERROR, __VA_ARGS__)
#define gw_log_warn(...)  gw_log_at(GW_LOG_WARN, __VA_ARGS__)
#define gw_log_info(...)  gw_log_at(GW_LOG_INFO, __VA_ARGS__)
#define gw_log_debug(...) gw_log_at(GW_LOG_DEBUG, __VA_ARGS__)
#define gw_log_noise(...) gw_log_at(GW_LOG_NOISE, __VA_ARGS__)

#endif
