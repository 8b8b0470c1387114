/*
 * check_log.c - unit tests for proto/log.c: gw_log_escape(), which keeps a client's
 * bytes from forging log lines (issue 11): control characters, DEL and bytes >= 0x80
 * become \xNN, a backslash becomes \\, printable ASCII stays, and the output is always
 * NUL-terminated and never ends in half an escape.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "proto/log.h"

static const char *esc(const char *src, size_t n, char *dst, size_t cap)
{
	size_t k = gw_log_escape(dst, cap, src, n);

	ck_assert_uint_eq(k, strlen(dst));
	ck_assert_uint_lt(k, cap);
	return dst;
}

START_TEST(test_printable_unchanged)
{
	char out[128];
	const char *s = "alice@127.0.0.1:5000 SELECT 'a' FROM t WHERE x = \"y\" -- ~!";

	ck_assert_str_eq(esc(s, strlen(s), out, sizeof(out)), s);
}
END_TEST

START_TEST(test_newline_and_controls)
{
	char out[128];

	ck_assert_str_eq(esc("x\nFORGED line", 13, out, sizeof(out)), "x\\x0aFORGED line");
	ck_assert_str_eq(esc("a\rb\tc\033[31m", 10, out, sizeof(out)), "a\\x0db\\x09c\\x1b[31m");
	ck_assert_str_eq(esc("\x7f", 1, out, sizeof(out)), "\\x7f");
}
END_TEST

START_TEST(test_nul_and_high_bytes)
{
	char out[128];
	const char in[] = { 'u', '\0', 'v', (char)0x80, (char)0xc3, (char)0xa9, (char)0xff };

	ck_assert_str_eq(esc(in, sizeof(in), out, sizeof(out)), "u\\x00v\\x80\\xc3\\xa9\\xff");
}
END_TEST

START_TEST(test_backslash_doubled)
{
	char out[128];

	/* Otherwise a client could write the escaped form of a newline itself. */
	ck_assert_str_eq(esc("a\\x0aB", 6, out, sizeof(out)), "a\\\\x0aB");
}
END_TEST

START_TEST(test_truncation_keeps_whole_escapes)
{
	char out[8];

	/* 7 bytes of room: "ab" + "\x0a" = 6, the next escape does not fit. */
	ck_assert_str_eq(esc("ab\n\ncd", 6, out, sizeof(out)), "ab\\x0a");
	ck_assert_str_eq(esc("abcdefghij", 10, out, sizeof(out)), "abcdefg");
	ck_assert_str_eq(esc("abcdef\\", 7, out, sizeof(out)), "abcdef");
	ck_assert_uint_eq(gw_log_escape(out, 1, "abc", 3), 0);
	ck_assert_str_eq(out, "");
}
END_TEST

START_TEST(test_every_byte)
{
	char in[256], out[256 * 4 + 1];
	size_t k;

	for (int i = 0; i < 256; i++)
		in[i] = (char)i;
	k = gw_log_escape(out, sizeof(out), in, sizeof(in));
	ck_assert_uint_eq(k, strlen(out));
	for (size_t i = 0; i < k; i++) {
		unsigned char ch = (unsigned char)out[i];

		ck_assert_msg(ch >= 0x20 && ch < 0x7f, "byte 0x%02x at %zu", ch, i);
	}
	/* 32 + 129 escapes of 4, 1 backslash as 2, the other 94 as they are */
	ck_assert_uint_eq(k, (32 + 129) * 4 + 2 + 94);
}
END_TEST

static Suite *log_suite(void)
{
	Suite *s = suite_create("log");
	TCase *tc = tcase_create("escape");

	tcase_add_test(tc, test_printable_unchanged);
	tcase_add_test(tc, test_newline_and_controls);
	tcase_add_test(tc, test_nul_and_high_bytes);
	tcase_add_test(tc, test_backslash_doubled);
	tcase_add_test(tc, test_truncation_keeps_whole_escapes);
	tcase_add_test(tc, test_every_byte);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(log_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
