/*
 * stream.h - what stream.c offers the other gateway files (a command's answer, from the
 * backend connection to the client).
 */
#ifndef SLUICE_GW_STREAM_H
#define SLUICE_GW_STREAM_H

#include <stdbool.h>
#include <stdint.h>

#include "gateway/gw.h"

/* Pass on what s->in holds of the running command's answer, to its end. */
void server_stream(struct gw_server *s);

#endif
