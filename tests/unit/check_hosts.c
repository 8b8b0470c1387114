/*
 * check_hosts.c - unit tests for gateway/hosts.c (issue 11): the failed-login delay per
 * address (its schedule, its window, that it does not depend on the outcome), the cap on
 * connections before login per address, and that the table stays within its fixed size
 * however many addresses come (new ones are admitted untracked, not refused).
 */
#include <check.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "gateway/hosts.h"

#define MS 1000000ull

static struct gw_hosts *h;

static void setup(void)
{
	struct gw_hosts_config cfg = {
		.max_prelogin = 4,
		.fail_threshold = 10,
		.delay_max_ms = 500,
		.step_ms = 100,
		.window_ms = 10000,
	};

	h = malloc(sizeof(*h));
	ck_assert_ptr_nonnull(h);
	gw_hosts_init(h, &cfg, 0x1234abcdull);
}

static void teardown(void)
{
	gw_hosts_destroy(h);
	free(h);
}

static struct gw_host_key v4(uint32_t addr)
{
	struct sockaddr_in in;
	struct gw_host_key k;

	memset(&in, 0, sizeof(in));
	in.sin_family = AF_INET;
	in.sin_addr.s_addr = htonl(addr);
	gw_host_key_from_sa((const struct sockaddr *)&in, &k);
	return k;
}

START_TEST(test_key_v4_mapped)
{
	struct gw_host_key k = v4(0x7f000001);
	const uint8_t want[16] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 127, 0, 0, 1 };

	ck_assert_mem_eq(k.b, want, 16);
}
END_TEST

START_TEST(test_delay_schedule)
{
	struct gw_host_key a = v4(0x7f000001), b = v4(0x7f000002);
	uint64_t now = 1000 * MS;
	const uint32_t want[] = { 100, 200, 300, 400, 500, 500, 500 };

	for (int i = 0; i < 10; i++)
		ck_assert_uint_eq(gw_hosts_auth_delay_ms(h, &a, true, now += MS), 0);
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		ck_assert_uint_eq(gw_hosts_auth_delay_ms(h, &a, true, now += MS), want[i]);
	/* The answer to a right password waits as long: no early answer gives it away. */
	ck_assert_uint_eq(gw_hosts_auth_delay_ms(h, &a, false, now += MS), 500);
	/* ... and does not reset the count. */
	ck_assert_uint_eq(gw_hosts_auth_delay_ms(h, &a, true, now += MS), 500);
	/* Another address is not affected. */
	ck_assert_uint_eq(gw_hosts_auth_delay_ms(h, &b, false, now), 0);
	ck_assert_uint_eq(gw_hosts_auth_delay_ms(h, &b, true, now), 0);
}
END_TEST

START_TEST(test_window)
{
	struct gw_host_key a = v4(0x0a000001);
	uint64_t now = 5 * MS;
	uint32_t pre, fails;

	for (int i = 0; i < 12; i++)
		gw_hosts_auth_delay_ms(h, &a, true, now += 9000 * MS); /* 9 s apart: counted */
	gw_hosts_peek(h, &a, now, &pre, &fails);
	ck_assert_uint_eq(fails, 12);
	ck_assert_uint_eq(gw_hosts_auth_delay_ms(h, &a, false, now), 300);
	now += 10001 * MS; /* quiet for longer than the window: forgotten */
	gw_hosts_peek(h, &a, now, &pre, &fails);
	ck_assert_uint_eq(fails, 0);
	ck_assert_uint_eq(gw_hosts_auth_delay_ms(h, &a, true, now), 0);
	gw_hosts_peek(h, &a, now, &pre, &fails);
	ck_assert_uint_eq(fails, 1);
}
END_TEST

START_TEST(test_delay_off)
{
	struct gw_hosts_config cfg = h->cfg;
	struct gw_host_key a = v4(0x0a000002);

	cfg.delay_max_ms = 0;
	gw_hosts_destroy(h);
	gw_hosts_init(h, &cfg, 7);
	for (int i = 0; i < 100; i++)
		ck_assert_uint_eq(gw_hosts_auth_delay_ms(h, &a, true, (uint64_t)i * MS), 0);
}
END_TEST

START_TEST(test_prelogin_cap)
{
	struct gw_host_key a = v4(0xc0a80001), b = v4(0xc0a80002);
	uint32_t pre, fails;

	for (int i = 0; i < 4; i++)
		ck_assert_int_eq(gw_hosts_enter(h, &a, MS), GW_HOST_COUNTED);
	ck_assert_int_eq(gw_hosts_enter(h, &a, MS), GW_HOST_REFUSED);
	ck_assert_int_eq(gw_hosts_enter(h, &b, MS), GW_HOST_COUNTED);
	gw_hosts_peek(h, &a, MS, &pre, &fails);
	ck_assert_uint_eq(pre, 4);
	gw_hosts_leave(h, &a);
	ck_assert_int_eq(gw_hosts_enter(h, &a, MS), GW_HOST_COUNTED);
	ck_assert_int_eq(gw_hosts_enter(h, &a, MS), GW_HOST_REFUSED);
	for (int i = 0; i < 4; i++)
		gw_hosts_leave(h, &a);
	gw_hosts_peek(h, &a, MS, &pre, &fails);
	ck_assert_uint_eq(pre, 0);
	gw_hosts_leave(h, &a); /* one too many: no underflow */
	gw_hosts_peek(h, &a, MS, &pre, &fails);
	ck_assert_uint_eq(pre, 0);
}
END_TEST

/* 127.0.0.0/8 has 16M addresses: the table must neither grow nor lock anyone out. */
START_TEST(test_bounded_table)
{
	const uint32_t cap = GW_HOSTS_BUCKETS * GW_HOSTS_WAYS;
	uint32_t counted = 0, untracked = 0, i;
	struct gw_host_key k;

	for (i = 0; i < 4 * cap; i++) {
		k = v4(0x7f000000 + i);
		switch (gw_hosts_enter(h, &k, MS)) {
		case GW_HOST_COUNTED:
			counted++;
			break;
		case GW_HOST_UNTRACKED:
			untracked++;
			break;
		case GW_HOST_REFUSED:
			ck_abort_msg("address %u refused: the cap is per address", i);
		}
	}
	ck_assert_uint_eq(counted, cap);
	ck_assert_uint_eq(untracked, 3 * cap);
	/* Failures of yet more addresses: recorded where room is, never refused. */
	for (i = 0; i < 4 * cap; i++) {
		k = v4(0x7f800000 + i);
		ck_assert_uint_eq(gw_hosts_auth_delay_ms(h, &k, true, MS), 0);
	}
	/* Everyone leaves: the table has room again. */
	for (i = 0; i < 4 * cap; i++) {
		k = v4(0x7f000000 + i);
		gw_hosts_leave(h, &k);
	}
	k = v4(0x08080808);
	ck_assert_int_eq(gw_hosts_enter(h, &k, MS), GW_HOST_COUNTED);
}
END_TEST

START_TEST(test_eviction_keeps_counted)
{
	/* A counted address stays however many addresses with failures come after it. */
	struct gw_host_key a = v4(0x0b000001), k;
	uint32_t pre, fails;

	ck_assert_int_eq(gw_hosts_enter(h, &a, MS), GW_HOST_COUNTED);
	for (uint32_t i = 0; i < 100000; i++) {
		k = v4(0x0c000000 + i);
		gw_hosts_auth_delay_ms(h, &k, true, MS + i);
	}
	gw_hosts_peek(h, &a, MS, &pre, &fails);
	ck_assert_uint_eq(pre, 1);
}
END_TEST

static Suite *hosts_suite(void)
{
	Suite *s = suite_create("hosts");
	TCase *tc = tcase_create("hosts");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_key_v4_mapped);
	tcase_add_test(tc, test_delay_schedule);
	tcase_add_test(tc, test_window);
	tcase_add_test(tc, test_delay_off);
	tcase_add_test(tc, test_prelogin_cap);
	tcase_add_test(tc, test_bounded_table);
	tcase_add_test(tc, test_eviction_keeps_counted);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(hosts_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
