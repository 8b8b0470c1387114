/*
 * auth.h - mysql_native_password and the SHA1 it stands on. Pure.
 *
 * stage1 = SHA1(password), stage2 = SHA1(stage1) (what mysql.user stores),
 * scramble = stage1 XOR SHA1(salt || stage2).
 * sluice stores stage1 per account: with it, it can both verify a client's scramble and
 * compute its own scramble to log in to a backend as the same user.
 */
#ifndef SLUICE_AUTH_H
#define SLUICE_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define AUTH_SALT_LEN 20
#define AUTH_SHA1_LEN 20
#define AUTH_NATIVE   "mysql_native_password"

struct auth_sha1 {
	uint32_t h[5];
	uint64_t bytes;
	uint8_t block[64];
	size_t used;
};

void auth_sha1_init(struct auth_sha1 *s);
void auth_sha1_update(struct auth_sha1 *s, const void *p, size_t n);
void auth_sha1_final(struct auth_sha1 *s, uint8_t out[AUTH_SHA1_LEN]);
void auth_sha1(const void *p, size_t n, uint8_t out[AUTH_SHA1_LEN]);

/* stage1 from a plain password (only at account creation; never stored). */
void auth_stage1(const char *password, size_t len, uint8_t stage1[AUTH_SHA1_LEN]);
/* The 20-byte answer to `salt` for an account with this stage1. */
void auth_native_scramble(const uint8_t stage1[AUTH_SHA1_LEN], const uint8_t salt[AUTH_SALT_LEN],
                          uint8_t out[AUTH_SHA1_LEN]);
/* Does a client's answer prove knowledge of the password? Constant time. An empty
 * password (has_password false) accepts only an empty answer. */
bool auth_native_verify(const uint8_t stage1[AUTH_SHA1_LEN], bool has_password,
                        const uint8_t salt[AUTH_SALT_LEN], const uint8_t *answer,
                        size_t answer_len);
/* A fresh random salt of printable, non-NUL bytes (as servers send). */
void auth_random_salt(uint8_t salt[AUTH_SALT_LEN]);
/* Constant-time comparison. */
bool auth_equal(const void *a, const void *b, size_t n);

#endif
