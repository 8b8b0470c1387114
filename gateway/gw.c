/*
 * gw.c - the gateway's one shared object (struct gw, gw.h) and the end of a broken
 * invariant. Every other gateway file uses them; this one uses none of those.
 */
#include <stdlib.h>

#include "gateway/gw.h"
#include "proto/log.h"

struct gw gw;

void gw_bug(const char *file, int line, const char *what)
{
	gw_log_error("BUG at %s:%d: %s", file, line, what);
	abort();
}
