/*
 * util.h - small helpers: monotonic time, strict number parsing, host:port parsing.
 */
#ifndef SLUICE_UTIL_H
#define SLUICE_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

uint64_t gw_now_ns(void);
/* Decimal unsigned integer in [min, max], the whole string, nothing else. */
bool gw_parse_u32(const char *s, uint32_t min, uint32_t max, uint32_t *out);
/* "HOST:PORT" (IPv4 or name; "[v6]:port" too) into host and port. */
bool gw_parse_hostport(const char *s, char *host, size_t hostlen, uint16_t *port);
/* Copy with truncation; always NUL-terminates. Returns the source length. */
size_t gw_strlcpy(char *dst, const char *src, size_t cap);

#endif
