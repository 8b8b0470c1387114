/*
 * login.h - what login.c offers the other gateway files (a client's way in).
 */
#ifndef SLUICE_GW_LOGIN_H
#define SLUICE_GW_LOGIN_H

#include <stdbool.h>
#include <stdint.h>

#include "gateway/gw.h"

/* The schema check of c's login (login_check) ran on s: err NULL, the schema was
 * accepted and the login is answered OK; else err (errlen bytes) is the backend's ERR
 * payload, which becomes the login's answer. s goes back to the pool (reusable) or is
 * closed. */
void gw_client_login_checked(struct gw_client *c, struct gw_server *s, const uint8_t *err,
                             uint32_t errlen, bool reusable);

/* The handshake response (HANDSHAKE state). */
void client_handshake(struct gw_client *c, const uint8_t *p, uint32_t len, uint8_t seq);

/* The answer to an AuthSwitchRequest (AUTH_SWITCH state). */
void client_auth_switch_answer(struct gw_client *c, const uint8_t *p, uint32_t len, uint8_t seq);

/* A login whose answer waited out its address's delay (AUTH_DELAY): answer it now. */
void client_auth_finish(struct gw_client *c);

void client_change_user(struct gw_client *c, const uint8_t *p, uint32_t len);

/* A login (or change) refused for its schema: ERR code, and the session as it was before
 * a COM_CHANGE_USER, or closed after a login. */
void client_login_refuse(struct gw_client *c, uint16_t code, const char *sqlstate, const char *msg);

#endif
