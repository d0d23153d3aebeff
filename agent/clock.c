#include "agent/clock.h"

#ifdef __x86_64__
#include <cpuid.h>
#endif

int64_t weft_clock_offset;
bool weft_stamp_tsc;

/* The TSC and the monotonic clock read together at start: the rate's origin. */
static uint64_t tsc0, ns0;

void weft_clock_init(void)
{
	uint64_t m0 = weft_clock_now();
	uint64_t r = weft_clock_realtime();
	uint64_t m1 = weft_clock_now();

	weft_clock_offset = (int64_t)r - (int64_t)(m0 + (m1 - m0) / 2);
#ifdef __x86_64__
	unsigned int a, b, c, d;

	/* CPUID 0x80000007, EDX bit 8: the invariant TSC. */
	if (__get_cpuid(0x80000007, &a, &b, &c, &d) && (d & (1u << 8))) {
		ns0 = weft_clock_now();
		tsc0 = __builtin_ia32_rdtsc();
		weft_stamp_tsc = true;
	}
#endif
}

/* A 128-bit product: a TSC difference times nanoseconds overflows 64 bits. */
__extension__ typedef unsigned __int128 u128;

uint64_t weft_stamp_clock(uint64_t stamp, uint64_t now)
{
	uint64_t age = 0;

#ifdef __x86_64__
	if (weft_stamp_tsc) {
		uint64_t tsc = __builtin_ia32_rdtsc();

		if (tsc > stamp && tsc > tsc0 && now > ns0)
			age = (uint64_t)((u128)(tsc - stamp) * (now - ns0) / (tsc - tsc0));
		return age < now ? now - age : 0;
	}
#endif
	return stamp < now ? stamp : now;
}
