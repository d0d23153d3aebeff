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
 * Stamps: times taken inside the program's critical sections — when a
 * hand-off was published (where a signal or post is made, in front of the
 * real call), when a wait began and ended (a condition variable's wait
 * starts holding the mutex and ends having reacquired it; a contended
 * lock's wait ends holding the lock). On x86-64 with an invariant TSC a
 * stamp is the TSC, read unordered: the vDSO's clock read fences first,
 * waiting for the thread's outstanding loads, and that wait, inside the
 * critical section of a contended mutex, made a mutex+condvar job queue
 * 1.5x slower where a plain `rdtsc` costs nothing measurable (bench-pool).
 * Elsewhere a stamp is CLOCK_MONOTONIC nanoseconds. A stamp becomes a time
 * against a base (weft_stamp_at): most often the thread's cached one
 * (weft_stamp_base_cached), itself one TSC read, so that a wait converts at
 * its end even inside a critical section; a fenced clock read happens there
 * only when the thread's base is older than WEFT_STAMP_SHORT ticks or the
 * TSC's rate is not yet published (a process's first 10 ms).
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

/* A 128-bit product: a TSC difference times nanoseconds overflows 64 bits. */
__extension__ typedef unsigned __int128 weft_u128;

/*
 * Nanoseconds per stamp tick, in 32.32 fixed point: 1 << 32 when stamps are
 * nanoseconds; for the TSC, its rate against the monotonic clock from the
 * start, published once the start is WEFT_STAMP_RATE_AFTER_NS old and again
 * whenever that baseline has doubled (weft_stamp_refresh); 0 until then.
 */
extern uint64_t weft_stamp_q32;

/* Ages up to this many ticks use the published rate; longer ones measure it. */
#define WEFT_STAMP_SHORT (1ull << 24)

/* weft_stamp_span for a long age, or before the rate is published: exact. */
uint64_t weft_stamp_span_slow(uint64_t ticks);

/* Republishes the rate if its baseline has doubled (the exporter's loop). */
void weft_stamp_refresh(void);

/* The nanoseconds `ticks` of stamps last. */
static inline uint64_t weft_stamp_span(uint64_t ticks)
{
	uint64_t q = __atomic_load_n(&weft_stamp_q32, __ATOMIC_RELAXED);

	if (__builtin_expect(q != 0 && ticks < WEFT_STAMP_SHORT, 1))
		return (uint64_t)(((weft_u128)ticks * q) >> 32);
	return weft_stamp_span_slow(ticks);
}

/*
 * A monotonic time and the stamp of the same moment, with the rates its
 * conversions use: the published one, captured once (q), and for ages past
 * WEFT_STAMP_SHORT the rate from the origin to this base (exact, worked out
 * on first need from the base alone). A conversion is thus a function of
 * the base and the stamp only — the same stamp, the same time, whenever it
 * is converted — and never runs backwards: an older stamp is never later.
 */
struct weft_stamp_base {
	uint64_t ns, stamp;
	uint64_t q, exact; /* 32.32 ns per tick; 0: none published / not worked out yet */
};

static inline struct weft_stamp_base weft_stamp_base(void)
{
	struct weft_stamp_base b;

	b.ns = weft_clock_now();
#ifdef __x86_64__
	b.stamp = __builtin_expect(weft_stamp_tsc, 1) ? __builtin_ia32_rdtsc() : b.ns;
#else
	b.stamp = b.ns;
#endif
	b.q = __atomic_load_n(&weft_stamp_q32, __ATOMIC_RELAXED);
	b.exact = 0;
	return b;
}

/* The rate from the origin to `b` (cached in it). */
uint64_t weft_stamp_exact(struct weft_stamp_base *b);

/*
 * A thread's last clock read and the TSC with it (weft_stamp_base_cached),
 * its own and its signal handlers': stamp 0, none yet. Read and written
 * whole, each in one instruction, so that a handler sees it as it was
 * before or after the interrupted code's store, never half of each.
 */
struct weft_stamp_cache {
	uint64_t ns, stamp;
};

/*
 * A fresh base, read as a bracketed pair (a TSC read on each side of the
 * clock read, up to four tries): kept in *c when the bracket is tight, so
 * that a preemption or a signal handler between the two reads does not
 * skew the bases taken from the cache after it. Before the TSC's rate is
 * published, the pair publishes it once the origin is old enough
 * (WEFT_STAMP_RATE_AFTER_NS) and the pair close enough (agent/clock.c:
 * publish_pair): until then every base is a clock read and
 * every conversion a division, and the exporter's own refresh comes only
 * with its first walk, half a second after the start.
 */
struct weft_stamp_base weft_stamp_base_fill(struct weft_stamp_cache *c);

#ifdef __x86_64__
typedef uint64_t weft_u64x2 __attribute__((vector_size(16)));

static inline void weft_stamp_cache_load(const struct weft_stamp_cache *c, uint64_t *ns,
					 uint64_t *stamp)
{
	weft_u64x2 v;

	__asm__ volatile("movdqu %1, %0" : "=x"(v) : "m"(*c));
	*ns = v[0];
	*stamp = v[1];
}

static inline void weft_stamp_cache_store(struct weft_stamp_cache *c, uint64_t ns, uint64_t stamp)
{
	weft_u64x2 v = { ns, stamp };

	__asm__ volatile("movdqu %1, %0" : "=m"(*c) : "x"(v));
}
#endif

/*
 * weft_stamp_base, without a clock read while the thread's last one is
 * younger than WEFT_STAMP_SHORT ticks: its time plus the ticks since, at
 * the published rate — how every stamp that young is converted anyway
 * (weft_stamp_age). The vDSO read was two thirds of a base's cost (22 of
 * 33 ns on the development VM), and a thread that waits often takes a base
 * at every wait's end.
 */
static inline struct weft_stamp_base weft_stamp_base_cached(struct weft_stamp_cache *c)
{
#ifdef __x86_64__
	uint64_t q = __atomic_load_n(&weft_stamp_q32, __ATOMIC_RELAXED);

	if (__builtin_expect(q != 0 && weft_stamp_tsc, 1)) {
		uint64_t ns, s0, now;

		weft_stamp_cache_load(c, &ns, &s0);
		now = __builtin_ia32_rdtsc();
		/* None yet (0), or a TSC behind it (another CPU's): a wrapped, huge age. */
		if (__builtin_expect(now - s0 < WEFT_STAMP_SHORT, 1))
			return (struct weft_stamp_base){
				ns + (uint64_t)(((weft_u128)(now - s0) * q) >> 32), now, q, 0
			};
	}
#endif
	return weft_stamp_base_fill(c);
}

/* How long `ticks` of stamps last, against `b`: continuous and increasing in ticks. */
static inline uint64_t weft_stamp_age(struct weft_stamp_base *b, uint64_t ticks)
{
	uint64_t e;

	if (__builtin_expect(b->q != 0 && ticks < WEFT_STAMP_SHORT, 1))
		return (uint64_t)(((weft_u128)ticks * b->q) >> 32);
	e = b->exact ? b->exact : weft_stamp_exact(b);
	if (!b->q)
		return (uint64_t)(((weft_u128)ticks * e) >> 32);
	return (uint64_t)(((weft_u128)WEFT_STAMP_SHORT * b->q) >> 32) +
	       (uint64_t)(((weft_u128)(ticks - WEFT_STAMP_SHORT) * e) >> 32);
}

/*
 * The monotonic time of `stamp`, taken at or before `b`: `b`'s time less the
 * stamp's age, never after it.
 */
static inline uint64_t weft_stamp_at(struct weft_stamp_base *b, uint64_t stamp)
{
	uint64_t age = b->stamp > stamp ? weft_stamp_age(b, b->stamp - stamp) : 0;

	return age < b->ns ? b->ns - age : 0;
}

/*
 * The monotonic time of `stamp`, taken at or before `now` (a monotonic time
 * read just before this call).
 */
static inline uint64_t weft_stamp_clock(uint64_t stamp, uint64_t now)
{
	struct weft_stamp_base b = { now, now, __atomic_load_n(&weft_stamp_q32, __ATOMIC_RELAXED),
				     0 };

#ifdef __x86_64__
	if (__builtin_expect(weft_stamp_tsc, 1))
		b.stamp = __builtin_ia32_rdtsc();
#endif
	return weft_stamp_at(&b, stamp);
}

static inline uint64_t weft_clock_to_unix(uint64_t mono)
{
	return (uint64_t)((int64_t)mono + weft_clock_offset);
}

#endif
