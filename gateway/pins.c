/*
 * pins.c - the cap on connections held between statements (see pins.h).
 */
#include "gateway/pins.h"

uint32_t gw_pin_cap(uint32_t rule, uint32_t pool_size)
{
	if (rule)
		return rule;
	return pool_size >= 2 ? pool_size / 2 : 1;
}

bool gw_pin_room(uint32_t held, uint32_t rule, uint32_t held_total, uint32_t pool_size,
                 uint32_t reserved_others)
{
	uint32_t keep = reserved_others > 1 ? reserved_others : 1;

	if (pool_size < 2)
		keep = 0;
	else if (keep > pool_size - 1)
		keep = pool_size - 1;
	return held < gw_pin_cap(rule, pool_size) && held_total < pool_size - keep;
}
