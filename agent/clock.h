/*
 * Clocks. Events carry CLOCK_MONOTONIC nanoseconds (a vDSO read, immune to
 * wall-clock steps); the exporter converts them to Unix time with an offset
 * taken once at start.
 */
#ifndef WEFT_AGENT_CLOCK_H
#define WEFT_AGENT_CLOCK_H

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

static inline void weft_clock_init(void)
{
	uint64_t m0 = weft_clock_now();
	uint64_t r = weft_clock_realtime();
	uint64_t m1 = weft_clock_now();

	weft_clock_offset = (int64_t)r - (int64_t)(m0 + (m1 - m0) / 2);
}

static inline uint64_t weft_clock_to_unix(uint64_t mono)
{
	return (uint64_t)((int64_t)mono + weft_clock_offset);
}

#endif
