/*
 * pins.h - how many backend connections an account's sessions may hold between their
 * statements (issue 11). A session holds its connection while it is pinned (state sluice
 * cannot replay) or inside a transaction; such a connection serves no one else, so a
 * tenant that holds them all blocks every other tenant. Pure: the caller passes the
 * counts it read under gw.sched_lock.
 */
#ifndef SLUICE_PINS_H
#define SLUICE_PINS_H

#include <stdbool.h>
#include <stdint.h>

/* An account's cap: its max_pinned rule, or 0 for the automatic cap, half the pool
 * (at least 1). */
uint32_t gw_pin_cap(uint32_t rule, uint32_t pool_size);

/*
 * May one more session of an account hold a connection? held: the account's holding
 * sessions now; held_total: every account's; reserved_others: the sum of the other
 * accounts' reservations. Besides the account's own cap, the pool keeps back from
 * holding what the other accounts reserve, and at least one connection, so that a
 * statement of an account that holds nothing can always run (with a pool of 1 there is
 * nothing to keep back: one session may hold it).
 */
bool gw_pin_room(uint32_t held, uint32_t rule, uint32_t held_total, uint32_t pool_size,
                 uint32_t reserved_others);

#endif
