/*
 * auth.c - mysql_native_password and the SHA1 (FIPS 180-4) it stands on.
 *
 * Owns: the hash, the scramble arithmetic, salt generation. Pure apart from reading
 * the kernel's random source for salts; it never sees sockets, accounts or logs, and
 * never keeps a password or stage1 beyond the call (callers own those buffers).
 */
#include "proto/auth.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

static inline uint32_t rol32(uint32_t x, unsigned int n)
{
	return (x << n) | (x >> (32 - n));
}

static inline uint32_t load_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

static inline void store_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

/*
 * One 512-bit block (FIPS 180-4 §6.1.2). The message schedule is kept as a rolling
 * 16-word window rather than all 80 words: W[t] only depends on W[t-3], W[t-8], W[t-14]
 * and W[t-16], all of which are still in the window.
 */
static void sha1_block(uint32_t h[5], const uint8_t blk[64])
{
	uint32_t w[16];
	uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4];

	for (int t = 0; t < 16; t++)
		w[t] = load_be32(blk + 4 * t);

	for (int t = 0; t < 80; t++) {
		uint32_t f, k, tmp;

		if (t >= 16) {
			uint32_t x =
			    w[(t - 3) & 15] ^ w[(t - 8) & 15] ^ w[(t - 14) & 15] ^ w[t & 15];
			w[t & 15] = rol32(x, 1);
		}
		if (t < 20) {
			f = (b & c) | (~b & d); /* Ch */
			k = 0x5a827999u;
		} else if (t < 40) {
			f = b ^ c ^ d; /* Parity */
			k = 0x6ed9eba1u;
		} else if (t < 60) {
			f = (b & c) | (b & d) | (c & d); /* Maj */
			k = 0x8f1bbcdcu;
		} else {
			f = b ^ c ^ d;
			k = 0xca62c1d6u;
		}
		tmp = rol32(a, 5) + f + e + k + w[t & 15];
		e = d;
		d = c;
		c = rol32(b, 30);
		b = a;
		a = tmp;
	}
	h[0] += a;
	h[1] += b;
	h[2] += c;
	h[3] += d;
	h[4] += e;
}

void auth_sha1_init(struct auth_sha1 *s)
{
	s->h[0] = 0x67452301u;
	s->h[1] = 0xefcdab89u;
	s->h[2] = 0x98badcfeu;
	s->h[3] = 0x10325476u;
	s->h[4] = 0xc3d2e1f0u;
	s->bytes = 0;
	s->used = 0;
}

void auth_sha1_update(struct auth_sha1 *s, const void *p, size_t n)
{
	const uint8_t *in = p;

	s->bytes += n;
	/* Top up a partial block first, then hash whole blocks straight from the input. */
	if (s->used > 0) {
		size_t take = 64 - s->used;

		if (take > n)
			take = n;
		memcpy(s->block + s->used, in, take);
		s->used += take;
		in += take;
		n -= take;
		if (s->used < 64)
			return;
		sha1_block(s->h, s->block);
		s->used = 0;
	}
	while (n >= 64) {
		sha1_block(s->h, in);
		in += 64;
		n -= 64;
	}
	if (n > 0) {
		memcpy(s->block, in, n);
		s->used = n;
	}
}

/*
 * Padding (§5.1.1): a 1 bit, zeros up to 56 mod 64 bytes, then the message length in
 * bits as a 64-bit big-endian number. Wipes the state afterwards because, when hashing
 * a password, the block buffer holds part of it.
 */
void auth_sha1_final(struct auth_sha1 *s, uint8_t out[AUTH_SHA1_LEN])
{
	uint64_t bits = s->bytes * 8;

	s->block[s->used++] = 0x80;
	if (s->used > 56) {
		memset(s->block + s->used, 0, 64 - s->used);
		sha1_block(s->h, s->block);
		s->used = 0;
	}
	memset(s->block + s->used, 0, 56 - s->used);
	for (int i = 0; i < 8; i++)
		s->block[56 + i] = (uint8_t)(bits >> (56 - 8 * i));
	sha1_block(s->h, s->block);

	for (int i = 0; i < 5; i++)
		store_be32(out + 4 * i, s->h[i]);
	explicit_bzero(s, sizeof(*s));
}

void auth_sha1(const void *p, size_t n, uint8_t out[AUTH_SHA1_LEN])
{
	struct auth_sha1 s;

	auth_sha1_init(&s);
	auth_sha1_update(&s, p, n);
	auth_sha1_final(&s, out);
}

void auth_stage1(const char *password, size_t len, uint8_t stage1[AUTH_SHA1_LEN])
{
	auth_sha1(password, len, stage1);
}

void auth_native_scramble(const uint8_t stage1[AUTH_SHA1_LEN], const uint8_t salt[AUTH_SALT_LEN],
                          uint8_t out[AUTH_SHA1_LEN])
{
	struct auth_sha1 s;
	uint8_t stage2[AUTH_SHA1_LEN];
	uint8_t mask[AUTH_SHA1_LEN];

	auth_sha1(stage1, AUTH_SHA1_LEN, stage2);
	auth_sha1_init(&s);
	auth_sha1_update(&s, salt, AUTH_SALT_LEN);
	auth_sha1_update(&s, stage2, AUTH_SHA1_LEN);
	auth_sha1_final(&s, mask);
	for (int i = 0; i < AUTH_SHA1_LEN; i++)
		out[i] = stage1[i] ^ mask[i];
	explicit_bzero(stage2, sizeof(stage2));
	explicit_bzero(mask, sizeof(mask));
}

/*
 * We hold stage1, so the simplest sound check is to compute the answer we expect and
 * compare it with the client's in constant time. (A server holding only stage2 would
 * have to unmask the answer and hash it; the outcome is the same.) The length checks
 * leak only the length, which the client chose anyway.
 */
bool auth_native_verify(const uint8_t stage1[AUTH_SHA1_LEN], bool has_password,
                        const uint8_t salt[AUTH_SALT_LEN], const uint8_t *answer, size_t answer_len)
{
	uint8_t expect[AUTH_SHA1_LEN];
	bool ok;

	if (!has_password)
		return answer_len == 0;
	if (answer_len != AUTH_SHA1_LEN || answer == NULL)
		return false;
	auth_native_scramble(stage1, salt, expect);
	ok = auth_equal(expect, answer, AUTH_SHA1_LEN);
	explicit_bzero(expect, sizeof(expect));
	return ok;
}

/* Fill buf from the kernel; getrandom() first, /dev/urandom when the syscall is missing
 * (old kernels, seccomp sandboxes). Returns false only if both fail. */
static bool read_random(uint8_t *buf, size_t n)
{
	size_t got = 0;
	int fd;

	while (got < n) {
		ssize_t r = getrandom(buf + got, n - got, 0);

		if (r > 0) {
			got += (size_t)r;
			continue;
		}
		if (r < 0 && errno == EINTR)
			continue;
		break;
	}
	if (got == n)
		return true;

	fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	while (got < n) {
		ssize_t r = read(fd, buf + got, n - got);

		if (r > 0) {
			got += (size_t)r;
			continue;
		}
		if (r < 0 && errno == EINTR)
			continue;
		break;
	}
	close(fd);
	return got == n;
}

/*
 * Servers send salt bytes in 1..127: the handshake carries the salt's second part as a
 * NUL-terminated string, so a 0 byte would cut it short for clients that read it that
 * way. We draw from 1..127 by rejection sampling on the low 7 bits (only 0 is rejected),
 * so every allowed value stays equally likely.
 */
void auth_random_salt(uint8_t salt[AUTH_SALT_LEN])
{
	uint8_t pool[64];
	size_t have = 0, used = 0;
	size_t i = 0;

	while (i < AUTH_SALT_LEN) {
		uint8_t v;

		if (used == have) {
			if (!read_random(pool, sizeof(pool))) {
				/* No randomness at all: a predictable salt would let a recorded
				 * answer be replayed, so refuse to go on. */
				abort();
			}
			have = sizeof(pool);
			used = 0;
		}
		v = pool[used++] & 0x7f;
		if (v != 0)
			salt[i++] = v;
	}
	explicit_bzero(pool, sizeof(pool));
}

/* No early exit: the time taken depends on n only, not on where the buffers differ. */
bool auth_equal(const void *a, const void *b, size_t n)
{
	const volatile uint8_t *x = a;
	const volatile uint8_t *y = b;
	uint8_t diff = 0;

	for (size_t i = 0; i < n; i++)
		diff |= (uint8_t)(x[i] ^ y[i]);
	return diff == 0;
}
