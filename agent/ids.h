/*
 * Trace and span ids: random, from a per-thread xoshiro256** generator.
 *
 * Each thread's generator is seeded from a per-process secret (getrandom at
 * start, again in a forked child) mixed with the thread id and a counter, so
 * ids never depend on a shared lock and never repeat across threads or
 * processes except with the probability of a random 64/128-bit collision.
 * A task's trace (agent/task.h) is its root span's id mixed with a
 * per-process key (weft_ids_trace_of): as unique as the span ids are.
 */
#ifndef WEFT_AGENT_IDS_H
#define WEFT_AGENT_IDS_H

#include <stdbool.h>
#include <stdint.h>

struct weft_trace_id {
	uint8_t b[16];
};

struct weft_span_id {
	uint8_t b[8];
};

struct weft_rng {
	uint64_t s[4];
};

/* Draws a fresh per-process secret; call at start and in a forked child. */
void weft_ids_init_process(void);

/* Seeds a thread's generator from the process secret and `salt` (a tid). */
void weft_ids_seed(struct weft_rng *rng, uint64_t salt);

uint64_t weft_ids_next(struct weft_rng *rng);

/* Never zero: zero means "no span" everywhere in weft. */
uint64_t weft_ids_span(struct weft_rng *rng);
void weft_ids_trace(struct weft_rng *rng, struct weft_trace_id *out);

/*
 * The keys of weft_ids_trace_of, drawn with the process secret (never equal
 * to each other). Written only by weft_ids_init_process, before any thread
 * but the caller runs weft code.
 */
extern uint64_t weft_ids_trace_keys[2];

/* A bijection of 64-bit words (murmur3's finalizer: xor-shifts and odd multipliers). */
static inline uint64_t weft_ids_mix(uint64_t x)
{
	x = (x ^ (x >> 33)) * 0xff51afd7ed558ccdull;
	x = (x ^ (x >> 33)) * 0xc4ceb9fe1a85ec53ull;
	return x ^ (x >> 33);
}

/* `v` as 8 big-endian bytes at `out`, so that the hex form reads as the number. */
static inline void weft_put_be64(uint8_t *out, uint64_t v)
{
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	v = __builtin_bswap64(v);
#endif
	__builtin_memcpy(out, &v, sizeof(v));
}

/*
 * The trace id of a trace whose root span is `span` (a fresh id from
 * weft_ids_span): each half is a keyed bijection of the span id, so that
 * starting a trace costs one draw, not three. Distinct spans give distinct
 * traces (the high half alone differs); the halves look as random as the
 * span id does, to anyone without the keys (a sampler reads the low half).
 * Never zero: a half is zero only for span == its key, and the keys differ.
 */
static inline void weft_ids_trace_of(uint64_t span, struct weft_trace_id *out)
{
	weft_put_be64(out->b, weft_ids_mix(span ^ weft_ids_trace_keys[0]));
	weft_put_be64(out->b + 8, weft_ids_mix(span ^ weft_ids_trace_keys[1]));
}

void weft_span_id_from_u64(uint64_t v, struct weft_span_id *out);
uint64_t weft_span_id_to_u64(const struct weft_span_id *id);

/*
 * Parses a W3C traceparent header value. Returns 0, or -EINVAL for anything
 * the Trace Context specification says to ignore (bad length, version ff,
 * non-hex, all-zero ids).
 */
int weft_ids_parse_traceparent(const char *s, struct weft_trace_id *trace, uint64_t *span,
			       uint8_t *flags);

/* The W3C traceparent value (version 00) of a span: 55 characters and a NUL in `out`. */
#define WEFT_TRACEPARENT_LEN 55
void weft_ids_format_traceparent(const struct weft_trace_id *trace, uint64_t span, uint8_t flags,
				 char out[WEFT_TRACEPARENT_LEN + 1]);

#endif
