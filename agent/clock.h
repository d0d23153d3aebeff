/*
 * Clocks. Events carry CLOCK_MONOTONIC nanoseconds (a vDSO read, immune to
 * wall-clock steps); the exporter converts them to Unix time with an offset
 * taken once at start.
 */
#ifndef WEFT_AGENT_CLOCK_H
#define WEFT_AGENT_CLOCK_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

static inline uint64_t weft_clock_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static inline uint64_t weft_clock_realtime(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/*
 * `t + delay`, saturating at UINT64_MAX: every deadline is computed with this,
 * so that a huge configured duration means "never", not a wrapped past time.
 */
static inline uint64_t weft_clock_after(uint64_t t, uint64_t delay)
{
	return t > UINT64_MAX - delay ? UINT64_MAX : t + delay;
}

/* Unix time minus monotonic time, measured at start. */
extern int64_t weft_clock_offset;

/*
 * Measures the offset, and whether stamps can be TSC readings (a processor
 * whose TSC is invariant: one rate, never stopped, the same on every core).
 */
void weft_clock_init(void);

/*
 * Stamps: when a hand-off was published, where a signal or post is made —
 * inside the program's critical section, in front of the real call. Only
 * the thread it wakes reads one, to ask how long ago it was
 * (weft_stamp_clock). On x86-64 with an invariant TSC a stamp is the TSC,
 * read unordered: the vDSO's clock read fences first, waiting for the
 * signaller's outstanding loads, and that wait, inside the critical section
 * of a contended mutex, made a mutex+condvar job queue 1.5x slower where a
 * plain `rdtsc` costs nothing measurable (bench-pool). Elsewhere a stamp is
 * CLOCK_MONOTONIC nanoseconds.
 */
extern bool weft_stamp_tsc;

static inline uint64_t weft_stamp(void)
{
#ifdef __x86_64__
	if (__builtin_expect(weft_stamp_tsc, 1))
		return __builtin_ia32_rdtsc();
#endif
	return weft_clock_now();
}

/*
 * The monotonic time of `stamp`, taken at or before `now` (a monotonic time
 * read just before this call): `now` less the stamp's age, never after
 * `now`. The TSC's rate is measured from the start (weft_clock_init) to
 * here, so a stamp's age is exact to the clock's own jitter.
 */
uint64_t weft_stamp_clock(uint64_t stamp, uint64_t now);

static inline uint64_t weft_clock_to_unix(uint64_t mono)
{
	return (uint64_t)((int64_t)mono + weft_clock_offset);
}

#endif
