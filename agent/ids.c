#include <errno.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "agent/atomic.h"
#include "agent/clock.h"
#include "agent/hot.h"
#include "agent/ids.h"

static uint64_t process_secret[2];
uint64_t weft_ids_trace_keys[2] WEFT_HOT_DATA = { 0, 1 };
static _Atomic uint64_t seed_counter;

static uint64_t splitmix64(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

void weft_ids_init_process(void)
{
	/* The seeds' secret, then the trace keys: drawn apart, so that neither tells the other. */
	uint64_t buf[4] = { 0, 0, 0, 0 };
	ssize_t n = getrandom(buf, sizeof(buf), GRND_NONBLOCK);

	if (n != (ssize_t)sizeof(buf)) {
		/* No entropy yet (early boot): fall back to time, pid and an address. */
		uint64_t x = weft_clock_realtime() ^ ((uint64_t)getpid() << 32) ^
			     (uint64_t)(uintptr_t)&buf;

		for (int i = 0; i < 4; i++)
			buf[i] = splitmix64(&x);
	}
	process_secret[0] = buf[0];
	process_secret[1] = buf[1];
	weft_ids_trace_keys[0] = buf[2];
	weft_ids_trace_keys[1] = buf[3] != buf[2] ? buf[3] : ~buf[2];
}

void weft_ids_seed(struct weft_rng *rng, uint64_t salt)
{
	uint64_t x = process_secret[0] ^ (salt * 0xd1342543de82ef95ull) ^
		     weft_fetch_add_relaxed(&seed_counter, 1) * 0x9e3779b97f4a7c15ull;

	x ^= process_secret[1] + weft_clock_now();
	for (int i = 0; i < 4; i++)
		rng->s[i] = splitmix64(&x);
}

static inline uint64_t rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

uint64_t weft_ids_next(struct weft_rng *rng)
{
	uint64_t *s = rng->s;
	uint64_t result = rotl(s[1] * 5, 7) * 9;
	uint64_t t = s[1] << 17;

	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return result;
}

/*
 * A state never seeded (all zero) is xoshiro's one fixed point: it would give
 * zeros forever, and the id loops below would never end. Seeded when a draw
 * gives zero, the only sign of it: the draw leaves a zero state as it was,
 * so the ids are those of seeding first, and a seeded generator pays for no
 * test of its state.
 */
static void ensure_seeded(struct weft_rng *rng)
{
	if ((rng->s[0] | rng->s[1] | rng->s[2] | rng->s[3]) == 0)
		weft_ids_seed(rng, (uint64_t)(uintptr_t)rng);
}

WEFT_HOT uint64_t weft_ids_span(struct weft_rng *rng)
{
	uint64_t v = weft_ids_next(rng);

	while (__builtin_expect(v == 0, 0)) {
		ensure_seeded(rng);
		v = weft_ids_next(rng);
	}
	return v;
}

void weft_span_id_from_u64(uint64_t v, struct weft_span_id *out)
{
	weft_put_be64(out->b, v);
}

uint64_t weft_span_id_to_u64(const struct weft_span_id *id)
{
	uint64_t v;

	memcpy(&v, id->b, sizeof(v));
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	v = __builtin_bswap64(v);
#endif
	return v;
}

void weft_ids_trace(struct weft_rng *rng, struct weft_trace_id *out)
{
	uint64_t hi, lo;

	for (;;) {
		hi = weft_ids_next(rng);
		lo = weft_ids_next(rng);
		if (__builtin_expect(hi != 0 || lo != 0, 1))
			break;
		ensure_seeded(rng);
	}
	weft_put_be64(out->b, hi);
	weft_put_be64(out->b + 8, lo);
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1; /* The specification allows lowercase only. */
}

static int parse_hex(const char *s, uint8_t *out, size_t n)
{
	bool nonzero = false;

	for (size_t i = 0; i < n; i++) {
		int h = hexval(s[2 * i]), l = hexval(s[2 * i + 1]);
		if (h < 0 || l < 0)
			return -EINVAL;
		out[i] = (uint8_t)(h << 4 | l);
		nonzero |= out[i] != 0;
	}
	return nonzero ? 0 : -EINVAL;
}

int weft_ids_parse_traceparent(const char *s, struct weft_trace_id *trace, uint64_t *span,
			       uint8_t *flags)
{
	uint8_t version, f;
	struct weft_trace_id t;
	struct weft_span_id sp;
	size_t len = strlen(s);

	/* version "-" trace-id "-" parent-id "-" flags: 2+1+32+1+16+1+2 = 55. */
	if (len < 55)
		return -EINVAL;
	if (hexval(s[0]) < 0 || hexval(s[1]) < 0)
		return -EINVAL;
	version = (uint8_t)(hexval(s[0]) << 4 | hexval(s[1]));
	if (version == 0xff || (version == 0 && len != 55))
		return -EINVAL;
	if (len > 55 && s[55] != '-')
		return -EINVAL;
	if (s[2] != '-' || s[35] != '-' || s[52] != '-')
		return -EINVAL;
	if (parse_hex(s + 3, t.b, 16) < 0 || parse_hex(s + 36, sp.b, 8) < 0)
		return -EINVAL;
	if (hexval(s[53]) < 0 || hexval(s[54]) < 0)
		return -EINVAL;
	f = (uint8_t)(hexval(s[53]) << 4 | hexval(s[54]));
	*trace = t;
	*span = weft_span_id_to_u64(&sp);
	*flags = f;
	return 0;
}

static char *put_hex(char *p, const uint8_t *b, size_t n)
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		*p++ = digits[b[i] >> 4];
		*p++ = digits[b[i] & 15];
	}
	return p;
}

void weft_ids_format_traceparent(const struct weft_trace_id *trace, uint64_t span, uint8_t flags,
				 char out[WEFT_TRACEPARENT_LEN + 1])
{
	struct weft_span_id sp;
	char *p = out;

	weft_span_id_from_u64(span, &sp);
	*p++ = '0';
	*p++ = '0';
	*p++ = '-';
	p = put_hex(p, trace->b, sizeof(trace->b));
	*p++ = '-';
	p = put_hex(p, sp.b, sizeof(sp.b));
	*p++ = '-';
	p = put_hex(p, &flags, 1);
	*p = '\0';
}
