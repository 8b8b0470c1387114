/*
 * check_auth.c - unit tests for proto/auth.c: SHA1 against the FIPS 180-4 example
 * vectors, the mysql_native_password stages against what mysql.user stores, and the
 * scramble round trip including the ways a verify must fail.
 *
 * Expected digests come from the standard (FIPS 180-2 appendix A examples) or from an
 * independent implementation (Python hashlib), never from auth.c itself.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/auth.h"

/* Hex (upper or lower case) to bytes; the test data below is always well formed. */
static void unhex(const char *hex, uint8_t *out, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned int v;

		ck_assert_int_eq(sscanf(hex + 2 * i, "%2x", &v), 1);
		out[i] = (uint8_t)v;
	}
}

static void ck_digest(const uint8_t got[AUTH_SHA1_LEN], const char *hex)
{
	uint8_t want[AUTH_SHA1_LEN];

	ck_assert_uint_eq(strlen(hex), 2 * AUTH_SHA1_LEN);
	unhex(hex, want, sizeof(want));
	ck_assert_mem_eq(got, want, AUTH_SHA1_LEN);
}

/* ---- SHA1 ---- */

static const struct {
	const char *msg;
	const char *digest;
} fips_vectors[] = {
	{ "abc", "a9993e364706816aba3e25717850c26c9cd0d89d" },
	{ "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
	  "84983e441c3bd26ebaae4aa1f95129e5e54670f1" },
	{ "", "da39a3ee5e6b4b0d3255bfef95601890afd80709" },
	{ "The quick brown fox jumps over the lazy dog",
	  "2fd4e1c67a2d28fced849ee1bb76e7391b93eb12" },
};

START_TEST(test_sha1_vectors)
{
	uint8_t out[AUTH_SHA1_LEN];

	auth_sha1(fips_vectors[_i].msg, strlen(fips_vectors[_i].msg), out);
	ck_digest(out, fips_vectors[_i].digest);
}
END_TEST

/* The same vectors fed one byte at a time: exercises the partial-block path. */
START_TEST(test_sha1_vectors_bytewise)
{
	struct auth_sha1 s;
	uint8_t out[AUTH_SHA1_LEN];
	const char *m = fips_vectors[_i].msg;

	auth_sha1_init(&s);
	for (size_t k = 0; m[k] != '\0'; k++)
		auth_sha1_update(&s, m + k, 1);
	auth_sha1_final(&s, out);
	ck_digest(out, fips_vectors[_i].digest);
}
END_TEST

START_TEST(test_sha1_million_a)
{
	struct auth_sha1 s;
	uint8_t out[AUTH_SHA1_LEN];
	char chunk[1000];

	/* Chunks of 1000 are not a multiple of 64, so block boundaries fall mid-chunk. */
	memset(chunk, 'a', sizeof(chunk));
	auth_sha1_init(&s);
	for (int i = 0; i < 1000; i++)
		auth_sha1_update(&s, chunk, sizeof(chunk));
	auth_sha1_final(&s, out);
	ck_digest(out, "34aa973cd4c4daa4f61eeb2bdbad27316534016f");
}
END_TEST

/*
 * Lengths around the padding boundaries: 55 bytes is the longest message whose length
 * fits in its last block, 56 forces an extra block, 64 fills exactly one block.
 * Message byte i is (7 * i + 1) mod 256; digests from Python hashlib.
 */
static const struct {
	size_t len;
	const char *digest;
} boundary_vectors[] = {
	{ 55, "04bb34aef4880b625e6b1564a014abd25fc02bfe" },
	{ 56, "83b9fcb6d3e3b20f376ab989a1b6353bcc6c0f44" },
	{ 63, "ab15090e8dbe512f3733350f9623ab11f9b5165b" },
	{ 64, "54305ee7e4c7bc5a96afc6d1994fc52d9bcb665f" },
	{ 65, "5985422a25357371ebd2a7f6ecd7eebed43db42c" },
	{ 119, "6839d6c27f22ed884ac43ae6bd3bfcee9e04b938" },
	{ 120, "8c40517a14ab8b78fd4b8958f4e31254a34c3fb0" },
	{ 128, "22485dc0d1e1d6e9e93e4a2a4667b8e979456379" },
};

START_TEST(test_sha1_boundaries)
{
	uint8_t msg[128];
	uint8_t out[AUTH_SHA1_LEN];
	struct auth_sha1 s;
	size_t len = boundary_vectors[_i].len;

	for (size_t k = 0; k < sizeof(msg); k++)
		msg[k] = (uint8_t)(7 * k + 1);
	auth_sha1(msg, len, out);
	ck_digest(out, boundary_vectors[_i].digest);

	/* Split in two uneven parts, so the second update starts mid-block. */
	auth_sha1_init(&s);
	auth_sha1_update(&s, msg, len / 3);
	auth_sha1_update(&s, msg + len / 3, len - len / 3);
	auth_sha1_final(&s, out);
	ck_digest(out, boundary_vectors[_i].digest);
}
END_TEST

/* ---- mysql_native_password ---- */

START_TEST(test_stages)
{
	uint8_t stage1[AUTH_SHA1_LEN], stage2[AUTH_SHA1_LEN];

	auth_stage1("password", 8, stage1);
	ck_digest(stage1, "5baa61e4c9b93f3f0682250b6cf8331b7ee68fd8");
	/* mysql.user.authentication_string for 'password' is "*" followed by this. */
	auth_sha1(stage1, sizeof(stage1), stage2);
	ck_digest(stage2, "2470C0C06DEE42FD1618BB99005ADCA2EC9D1E19");
}
END_TEST

/* Salt 01 02 .. 14; expected answer computed with Python hashlib from the formula. */
START_TEST(test_scramble_known_answer)
{
	uint8_t stage1[AUTH_SHA1_LEN], salt[AUTH_SALT_LEN], out[AUTH_SHA1_LEN];

	for (int i = 0; i < AUTH_SALT_LEN; i++)
		salt[i] = (uint8_t)(i + 1);
	auth_stage1("password", 8, stage1);
	auth_native_scramble(stage1, salt, out);
	ck_digest(out, "c17d6009a5cb47e59f7483fcf05553bbbf7dd0d6");
}
END_TEST

/* Shared setup for the verify tests: the account's stage1 and a salt. */
static uint8_t g_stage1[AUTH_SHA1_LEN];
static uint8_t g_salt[AUTH_SALT_LEN];

static void verify_setup(void)
{
	auth_stage1("s3cret!", 7, g_stage1);
	for (int i = 0; i < AUTH_SALT_LEN; i++)
		g_salt[i] = (uint8_t)(0x21 + 3 * i);
}

START_TEST(test_verify_right_answer)
{
	uint8_t ans[AUTH_SHA1_LEN];

	auth_native_scramble(g_stage1, g_salt, ans);
	ck_assert(auth_native_verify(g_stage1, true, g_salt, ans, sizeof(ans)));
}
END_TEST

START_TEST(test_verify_wrong_password)
{
	uint8_t other[AUTH_SHA1_LEN], ans[AUTH_SHA1_LEN];

	auth_stage1("s3cret?", 7, other);
	auth_native_scramble(other, g_salt, ans);
	ck_assert(!auth_native_verify(g_stage1, true, g_salt, ans, sizeof(ans)));
}
END_TEST

START_TEST(test_verify_each_bit_matters)
{
	uint8_t ans[AUTH_SHA1_LEN];

	auth_native_scramble(g_stage1, g_salt, ans);
	for (int i = 0; i < AUTH_SHA1_LEN * 8; i++) {
		ans[i / 8] ^= (uint8_t)(1u << (i % 8));
		ck_assert_msg(!auth_native_verify(g_stage1, true, g_salt, ans, sizeof(ans)),
		              "bit %d flipped but accepted", i);
		ans[i / 8] ^= (uint8_t)(1u << (i % 8));
	}
	ck_assert(auth_native_verify(g_stage1, true, g_salt, ans, sizeof(ans)));
}
END_TEST

START_TEST(test_verify_wrong_length)
{
	uint8_t ans[AUTH_SHA1_LEN + 1];

	auth_native_scramble(g_stage1, g_salt, ans);
	ans[AUTH_SHA1_LEN] = 0;
	ck_assert(!auth_native_verify(g_stage1, true, g_salt, ans, AUTH_SHA1_LEN - 1));
	ck_assert(!auth_native_verify(g_stage1, true, g_salt, ans, AUTH_SHA1_LEN + 1));
	ck_assert(!auth_native_verify(g_stage1, true, g_salt, ans, 0));
}
END_TEST

START_TEST(test_verify_wrong_salt)
{
	uint8_t ans[AUTH_SHA1_LEN], salt2[AUTH_SALT_LEN];

	memcpy(salt2, g_salt, sizeof(salt2));
	salt2[AUTH_SALT_LEN - 1] ^= 1;
	auth_native_scramble(g_stage1, salt2, ans);
	ck_assert(!auth_native_verify(g_stage1, true, g_salt, ans, sizeof(ans)));
	ck_assert(auth_native_verify(g_stage1, true, salt2, ans, sizeof(ans)));
}
END_TEST

START_TEST(test_verify_empty_password)
{
	uint8_t zero[AUTH_SHA1_LEN] = { 0 };
	uint8_t ans[AUTH_SHA1_LEN];

	/* No password: only an empty answer passes, whatever stage1 holds. */
	ck_assert(auth_native_verify(zero, false, g_salt, NULL, 0));
	ck_assert(auth_native_verify(g_stage1, false, g_salt, (const uint8_t *)"", 0));
	auth_native_scramble(zero, g_salt, ans);
	ck_assert(!auth_native_verify(zero, false, g_salt, ans, sizeof(ans)));
	/* And an account with a password never accepts an empty answer. */
	ck_assert(!auth_native_verify(g_stage1, true, g_salt, NULL, 0));
}
END_TEST

START_TEST(test_random_salt)
{
	uint8_t a[AUTH_SALT_LEN], b[AUTH_SALT_LEN];
	unsigned int seen[128] = { 0 };

	auth_random_salt(a);
	auth_random_salt(b);
	/* 2^-140 odds of a false failure. */
	ck_assert(memcmp(a, b, sizeof(a)) != 0);
	for (int round = 0; round < 500; round++) {
		auth_random_salt(a);
		for (int i = 0; i < AUTH_SALT_LEN; i++) {
			ck_assert_uint_ge(a[i], 1);
			ck_assert_uint_le(a[i], 127);
			seen[a[i]]++;
		}
	}
	/* 10000 draws over 127 values: each appears ~79 times; missing one means the
	 * mapping is skewed (odds of a false failure are about 127 * e^-79). */
	for (int v = 1; v < 128; v++)
		ck_assert_msg(seen[v] > 0, "salt byte %d never drawn", v);
}
END_TEST

START_TEST(test_equal)
{
	ck_assert(auth_equal("abcdef", "abcdef", 6));
	ck_assert(!auth_equal("abcdef", "abcdeg", 6));
	ck_assert(!auth_equal("Xbcdef", "abcdef", 6));
	ck_assert(auth_equal("abc", "abd", 2));
	ck_assert(auth_equal("", "", 0));
}
END_TEST

static Suite *auth_suite(void)
{
	Suite *s = suite_create("auth");
	TCase *tc;
	int nf = (int)(sizeof(fips_vectors) / sizeof(fips_vectors[0]));
	int nb = (int)(sizeof(boundary_vectors) / sizeof(boundary_vectors[0]));

	tc = tcase_create("sha1");
	tcase_add_loop_test(tc, test_sha1_vectors, 0, nf);
	tcase_add_loop_test(tc, test_sha1_vectors_bytewise, 0, nf);
	tcase_add_test(tc, test_sha1_million_a);
	tcase_add_loop_test(tc, test_sha1_boundaries, 0, nb);
	suite_add_tcase(s, tc);

	tc = tcase_create("native");
	tcase_add_test(tc, test_stages);
	tcase_add_test(tc, test_scramble_known_answer);
	suite_add_tcase(s, tc);

	tc = tcase_create("verify");
	tcase_add_checked_fixture(tc, verify_setup, NULL);
	tcase_add_test(tc, test_verify_right_answer);
	tcase_add_test(tc, test_verify_wrong_password);
	tcase_add_test(tc, test_verify_each_bit_matters);
	tcase_add_test(tc, test_verify_wrong_length);
	tcase_add_test(tc, test_verify_wrong_salt);
	tcase_add_test(tc, test_verify_empty_password);
	suite_add_tcase(s, tc);

	tc = tcase_create("util");
	tcase_add_test(tc, test_random_salt);
	tcase_add_test(tc, test_equal);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(auth_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
