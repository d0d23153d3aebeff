/*
 * The otlp output's retry policy (exporter/otlp_retry.c) driven with a fake
 * clock and a fake transport: which failures are retried, Retry-After
 * honoured and bounded by the deadline, backoff that grows and is capped, the
 * export deadline, the cool-down after a collector was found down, and the
 * exit budget shared by every signal and attempt.
 *
 * Only otlp_retry.c is linked (no core, no agent constructor); the globals
 * and the two id functions it uses are stubbed here.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "agent/agent.h"
#include "agent/ids.h"
#include "exporter/otlp_retry.h"
#include "harness.h"

#define MS WEFT_OTLP_NSEC_PER_MSEC
#define S  WEFT_OTLP_NSEC_PER_SEC

struct weft_process weft_process;

void weft_ids_seed(struct weft_rng *rng, uint64_t salt)
{
}

uint64_t weft_ids_next(struct weft_rng *rng)
{
	return 0;
}

/* --- The fake world ------------------------------------------------------ */

enum step {
	OK,      /* 200 */
	S503,    /* 503 without Retry-After */
	S503_RA, /* 503 with Retry-After: ra_ns */
	S400,    /* 400: final */
	REFUSED, /* connection refused: a transport failure, at once */
	RESET,   /* the connection broke (reset, or a keep-alive the collector dropped) */
	HANG,    /* no answer: the attempt runs to its limit (or the moving deadline) */
};

static struct {
	uint64_t now;
	uint64_t exit_at; /* the program begins to exit at this time (0: never) */
	uint64_t random;
	/* The transport's script, repeated from its last step. */
	enum step steps[32];
	size_t n_steps, next;
	uint64_t ra_ns;
	uint64_t starts[64]; /* when each attempt began */
	size_t attempts;
	uint64_t slept;
} w;

static uint64_t fake_now(void *arg)
{
	return w.now;
}

static void fake_sleep(void *arg, uint64_t ns)
{
	w.now += ns;
	w.slept += ns;
}

static uint64_t fake_random(void *arg)
{
	return w.random;
}

static bool fake_exiting(void *arg)
{
	return w.exit_at && w.now >= w.exit_at;
}

static const struct weft_otlp_env env = {
	.now = fake_now, .sleep = fake_sleep, .random = fake_random, .exiting = fake_exiting
};

static enum weft_otlp_outcome fake_attempt(void *arg, const uint8_t *body, size_t len,
					   struct weft_otlp_try *t, struct weft_otlp_failure *f)
{
	enum step s = w.steps[w.next < w.n_steps ? w.next : w.n_steps - 1];
	uint64_t limit = weft_otlp_try_limit(t), end = w.now + limit;

	w.next++;
	if (w.attempts < 64)
		w.starts[w.attempts] = w.now;
	w.attempts++;
	f->transport = false;
	f->broken = false;
	f->has_retry_after = false;
	w.now += MS; /* every answer takes a millisecond */
	switch (s) {
	case OK:
		return WEFT_OTLP_SENT;
	case S503_RA:
		f->has_retry_after = true;
		f->retry_after_ns = w.ra_ns;
		/* fall through */
	case S503:
		f->err = -EAGAIN;
		f->kind = 503;
		strcpy(f->why, "HTTP/1.1 503");
		return WEFT_OTLP_RETRY;
	case S400:
		f->err = -EIO;
		f->kind = 400;
		strcpy(f->why, "HTTP/1.1 400");
		return WEFT_OTLP_FINAL;
	case REFUSED:
		f->err = -ECONNREFUSED;
		f->kind = 1007;
		f->transport = true;
		strcpy(f->why, "refused");
		return WEFT_OTLP_RETRY;
	case RESET:
		f->err = -EIO;
		f->kind = 1056;
		f->transport = true;
		f->broken = true;
		strcpy(f->why, "reset");
		return WEFT_OTLP_RETRY;
	case HANG:
		/* As the libcurl transport does: wake every nap, stop at the deadline. */
		while (w.now < end && w.now < weft_otlp_try_deadline(t))
			w.now += WEFT_OTLP_NAP;
		f->err = -ETIMEDOUT;
		f->kind = 1028;
		f->transport = true;
		strcpy(f->why, "timed out");
		return WEFT_OTLP_RETRY;
	}
	return WEFT_OTLP_FINAL;
}

static const struct weft_otlp_transport tr = { .attempt = fake_attempt };

/* A fresh world at t = 100 s with this script. */
static void script(size_t n, const enum step *steps)
{
	memset(&w, 0, sizeof(w));
	w.now = 100 * S;
	w.random = 512; /* jitter of exactly the backoff */
	memcpy(w.steps, steps, n * sizeof(*steps));
	w.n_steps = n;
}

#define SCRIPT(...)                                                                                \
	do {                                                                                       \
		const enum step s_[] = { __VA_ARGS__ };                                            \
		script(sizeof(s_) / sizeof(s_[0]), s_);                                            \
	} while (0)

static int send(struct weft_otlp_retry *st, struct weft_otlp_exit *ex, uint64_t timeout,
		struct weft_otlp_result *r)
{
	static const uint8_t body[4] = { 1, 2, 3, 4 };

	return weft_otlp_retry_send(st, &env, ex, &tr, timeout, 10 * S, body, sizeof(body), r);
}

/* --- Pure parts ---------------------------------------------------------- */

static time_t fake_getdate(const char *s, const time_t *unused)
{
	return strcmp(s, "Wed, 21 Oct 2015 07:28:00 GMT") == 0 ? 1445412480 : (time_t)-1;
}

static void test_pure(void)
{
	static const long retryable[] = { 429, 502, 503, 504 };
	static const long final[] = { 200, 301, 400, 401, 403, 404, 408, 413, 500, 501, 505 };
	uint64_t b = WEFT_OTLP_BACKOFF_INITIAL, ns = 7;

	for (size_t i = 0; i < sizeof(retryable) / sizeof(retryable[0]); i++)
		expect_true(weft_otlp_status_retryable(retryable[i]));
	for (size_t i = 0; i < sizeof(final) / sizeof(final[0]); i++)
		expect_true(!weft_otlp_status_retryable(final[i]));

	/* 1 s, 2 s, 4 s, then 5 s for good. */
	b = weft_otlp_backoff_next(b);
	expect_int(b, 2 * S);
	b = weft_otlp_backoff_next(b);
	expect_int(b, 4 * S);
	b = weft_otlp_backoff_next(b);
	expect_int(b, 5 * S);
	expect_int(weft_otlp_backoff_next(b), 5 * S);
	expect_int(weft_otlp_backoff_next(UINT64_MAX / 2), 5 * S);

	/* Jitter: within [0.5, 1.5) of the backoff, whatever the random number. */
	for (uint64_t r = 0; r < 4096; r += 7) {
		uint64_t j = weft_otlp_jitter(2 * S, r);

		expect_true(j >= 1 * S && j < 3 * S);
	}
	expect_int(weft_otlp_jitter(2 * S, 0), 1 * S);
	expect_int(weft_otlp_jitter(1024, 512), 1024);

	expect_true(weft_otlp_retry_after_parse("2", 0, NULL, &ns));
	expect_int(ns, 2 * S);
	expect_true(weft_otlp_retry_after_parse("0", 0, NULL, &ns));
	expect_int(ns, 0);
	expect_true(!weft_otlp_retry_after_parse("", 0, NULL, &ns));
	expect_true(!weft_otlp_retry_after_parse("2s", 0, NULL, &ns));
	expect_true(!weft_otlp_retry_after_parse("-1", 0, NULL, &ns));
	/* A huge number saturates instead of wrapping to a short wait. */
	expect_true(weft_otlp_retry_after_parse("99999999999999999999999", 0, NULL, &ns));
	expect_true(ns >= (UINT64_C(1) << 32) * S / 2);
	expect_true(weft_otlp_retry_after_parse("Wed, 21 Oct 2015 07:28:00 GMT", 1445412470,
						fake_getdate, &ns));
	expect_int(ns, 10 * S);
	expect_true(weft_otlp_retry_after_parse("Wed, 21 Oct 2015 07:28:00 GMT", 1445412490,
						fake_getdate, &ns));
	expect_int(ns, 0); /* a date in the past: at once */
	expect_true(!weft_otlp_retry_after_parse("Wed, 21 Oct 2015", 0, fake_getdate, &ns));
}

/* --- The policy ---------------------------------------------------------- */

static void test_retryable_vs_final(void)
{
	struct weft_otlp_retry st = { 0 };
	struct weft_otlp_exit ex = { .budget_ns = 1 * S };
	struct weft_otlp_result r;

	SCRIPT(S503, OK);
	expect_int(send(&st, &ex, 30 * S, &r), 0);
	expect_int(r.attempts, 2);
	/* The wait was the backoff (1 s, jittered to the middle here). */
	expect_int(w.starts[1] - w.starts[0], weft_otlp_jitter(1 * S, 512) + MS);
	expect_true(weft_otlp_jitter(1 * S, 512) > 1 * S - MS / 1000);

	SCRIPT(S400, OK);
	expect_int(send(&st, &ex, 30 * S, &r), -EIO);
	expect_int(r.attempts, 1);
	expect_true(r.final);
	expect_int(w.slept, 0);
	/* A final failure says nothing about the collector being down. */
	expect_int(st.quiet_until, 0);

	SCRIPT(REFUSED, REFUSED, OK);
	expect_int(send(&st, &ex, 30 * S, &r), 0);
	expect_int(r.attempts, 3);
}

static void test_retry_after(void)
{
	struct weft_otlp_retry st = { 0 };
	struct weft_otlp_exit ex = { .budget_ns = 1 * S };
	struct weft_otlp_result r;

	/* Honoured exactly, instead of the backoff. */
	SCRIPT(S503_RA, OK);
	w.ra_ns = 3 * S;
	expect_int(send(&st, &ex, 30 * S, &r), 0);
	expect_int(r.attempts, 2);
	expect_int(w.starts[1] - w.starts[0], 3 * S + MS);

	/* Longer than what is left: the export ends at once, without waiting. */
	SCRIPT(S503_RA, OK);
	w.ra_ns = 40 * S;
	expect_int(send(&st, &ex, 30 * S, &r), -EAGAIN);
	expect_int(r.attempts, 1);
	expect_int(w.slept, 0);
	expect_true(!r.final);
}

static void test_backoff_grows_capped(void)
{
	static const uint64_t gaps[] = { 1 * S, 2 * S, 4 * S, 5 * S, 5 * S, 5 * S };
	struct weft_otlp_retry st = { 0 };
	struct weft_otlp_exit ex = { .budget_ns = 1 * S };
	struct weft_otlp_result r;

	SCRIPT(S503, S503, S503, S503, S503, S503, OK);
	expect_int(send(&st, &ex, 60 * S, &r), 0);
	expect_int(r.attempts, 7);
	for (size_t i = 0; i < 6; i++)
		expect_int(w.starts[i + 1] - w.starts[i], weft_otlp_jitter(gaps[i], 512) + MS);
}

static void test_deadline(void)
{
	struct weft_otlp_retry st = { 0 };
	struct weft_otlp_exit ex = { .budget_ns = 1 * S };
	struct weft_otlp_result r;
	uint64_t t0;

	/* Always 503, 10 s: attempts at 0, 1, 3, 7 s; the next (12 s) would be too late. */
	SCRIPT(S503);
	t0 = w.now;
	expect_int(send(&st, &ex, 10 * S, &r), -EAGAIN);
	expect_int(r.attempts, 4);
	expect_true(w.now <= t0 + 10 * S);
	expect_int(w.starts[3] - t0, weft_otlp_jitter(1 * S, 512) + weft_otlp_jitter(2 * S, 512) +
					     weft_otlp_jitter(4 * S, 512) + 3 * MS);

	/* An attempt is bounded by what is left of the export's time. */
	SCRIPT(HANG);
	st = (struct weft_otlp_retry){ 0 };
	t0 = w.now;
	expect_int(send(&st, &ex, 3 * S, &r), -ETIMEDOUT);
	expect_int(r.attempts, 1);
	expect_true(w.now >= t0 + 3 * S && w.now <= t0 + 3 * S + WEFT_OTLP_NAP + MS);
}

static void test_cooldown(void)
{
	struct weft_otlp_retry traces = { 0 }, metrics = { 0 };
	struct weft_otlp_exit ex = { .budget_ns = 1 * S };
	struct weft_otlp_result r;

	traces.sibling = &metrics;
	metrics.sibling = &traces;
	SCRIPT(REFUSED);
	expect_int(send(&traces, &ex, 5 * S, &r), -ECONNREFUSED);
	expect_true(r.attempts >= 2);
	/* Found down: both signals fail at once for 5 s, without an attempt. */
	w.attempts = 0;
	w.now += 1 * S;
	expect_int(send(&traces, &ex, 5 * S, &r), -ECONNREFUSED);
	expect_true(r.cooling);
	expect_int(r.attempts, 0);
	expect_int(send(&metrics, &ex, 5 * S, &r), -ECONNREFUSED);
	expect_true(r.cooling);
	expect_int(w.attempts, 0);
	/* Then tried again. */
	w.now += 5 * S;
	w.steps[0] = OK;
	expect_int(send(&metrics, &ex, 5 * S, &r), 0);
	expect_int(r.attempts, 1);

	/* At exit a signal cooling down gets one attempt, not none and not retries. */
	SCRIPT(S503);
	traces = (struct weft_otlp_retry){ .quiet_until = w.now + 4 * S, .quiet_err = -EAGAIN };
	w.exit_at = w.now;
	ex = (struct weft_otlp_exit){ .budget_ns = 1 * S };
	expect_int(send(&traces, &ex, 30 * S, &r), -EAGAIN);
	expect_int(r.attempts, 1);
	expect_int(w.slept, 0);
}

static void test_exit_budget(void)
{
	struct weft_otlp_retry traces = { 0 }, metrics = { 0 };
	struct weft_otlp_exit ex = { .budget_ns = 1 * S };
	struct weft_otlp_result r;
	uint64_t t0;

	/* A collector that never answers: one budget for both signals. */
	SCRIPT(HANG);
	t0 = w.now;
	w.exit_at = t0;
	expect_int(send(&traces, &ex, 30 * S, &r), -ETIMEDOUT);
	expect_int(ex.seen_ns, t0);
	expect_int(r.attempts, 1);
	expect_true(w.now >= t0 + 1 * S && w.now <= t0 + 1 * S + WEFT_OTLP_NAP + MS);
	expect_int(send(&metrics, &ex, 30 * S, &r), -ETIMEDOUT);
	expect_int(r.attempts, 0);
	expect_true(w.now <= t0 + 1 * S + WEFT_OTLP_NAP + MS);

	/* A refused connection at exit fails at once: no retry, no wait. */
	SCRIPT(REFUSED, OK);
	t0 = w.now;
	w.exit_at = t0;
	ex = (struct weft_otlp_exit){ .budget_ns = 20 * S };
	traces = (struct weft_otlp_retry){ 0 };
	expect_int(send(&traces, &ex, 30 * S, &r), -ECONNREFUSED);
	expect_int(r.attempts, 1);
	expect_int(w.slept, 0);

	/* A connection that broke is tried again once, at once, then no more. */
	SCRIPT(RESET, OK);
	w.exit_at = w.now;
	ex = (struct weft_otlp_exit){ .budget_ns = 1 * S };
	traces = (struct weft_otlp_retry){ 0 };
	expect_int(send(&traces, &ex, 30 * S, &r), 0);
	expect_int(r.attempts, 2);
	expect_int(w.slept, 0);
	SCRIPT(RESET, RESET, OK);
	w.exit_at = w.now;
	ex = (struct weft_otlp_exit){ .budget_ns = 1 * S };
	traces = (struct weft_otlp_retry){ 0 };
	expect_int(send(&traces, &ex, 30 * S, &r), -EIO);
	expect_int(r.attempts, 2);
	expect_int(w.slept, 0);

	/* A retryable answer is retried while the budget lasts. */
	SCRIPT(S503_RA, OK);
	w.ra_ns = 1 * S;
	w.exit_at = w.now;
	ex = (struct weft_otlp_exit){ .budget_ns = 3 * S };
	traces = (struct weft_otlp_retry){ 0 };
	expect_int(send(&traces, &ex, 30 * S, &r), 0);
	expect_int(r.attempts, 2);

	/*
	 * The exit begins during the wait between attempts (a 1 s backoff): the
	 * wait is cut to half of what is left, and the next attempt made in time.
	 */
	SCRIPT(S503, OK);
	t0 = w.now;
	w.exit_at = t0 + 200 * MS;
	ex = (struct weft_otlp_exit){ .budget_ns = 500 * MS };
	traces = (struct weft_otlp_retry){ 0 };
	expect_int(send(&traces, &ex, 30 * S, &r), 0);
	expect_int(r.attempts, 2);
	expect_true(w.starts[1] >= t0 + 400 * MS && w.starts[1] <= t0 + 500 * MS);
	/* Always failing: attempts at halves of what is left, never past the budget. */
	SCRIPT(S503);
	t0 = w.now;
	w.exit_at = t0 + 200 * MS;
	ex = (struct weft_otlp_exit){ .budget_ns = 500 * MS };
	traces = (struct weft_otlp_retry){ 0 };
	expect_int(send(&traces, &ex, 30 * S, &r), -EAGAIN);
	expect_true(r.attempts >= 3 && r.attempts <= 8);
	expect_true(w.now <= t0 + 700 * MS);
	/* A Retry-After that ends past the budget is honoured: no attempt before it. */
	SCRIPT(S503_RA, OK);
	w.ra_ns = 1 * S;
	t0 = w.now;
	w.exit_at = t0 + 200 * MS;
	ex = (struct weft_otlp_exit){ .budget_ns = 500 * MS };
	traces = (struct weft_otlp_retry){ 0 };
	expect_int(send(&traces, &ex, 30 * S, &r), -EAGAIN);
	expect_int(r.attempts, 1);
	expect_true(w.now <= t0 + 700 * MS);

	/* The exit begins during an attempt in flight: it ends within the budget. */
	SCRIPT(HANG);
	t0 = w.now;
	w.exit_at = t0 + 2 * S;
	ex = (struct weft_otlp_exit){ .budget_ns = 1 * S };
	traces = (struct weft_otlp_retry){ 0 };
	expect_int(send(&traces, &ex, 30 * S, &r), -ETIMEDOUT);
	expect_int(r.attempts, 1);
	expect_true(w.now >= t0 + 3 * S && w.now <= t0 + 3 * S + WEFT_OTLP_NAP + MS);

	/* A budget that would overflow the clock means "no cut", not the past. */
	SCRIPT(S503, OK);
	w.exit_at = w.now;
	ex = (struct weft_otlp_exit){ .budget_ns = UINT64_MAX };
	traces = (struct weft_otlp_retry){ 0 };
	expect_int(send(&traces, &ex, 30 * S, &r), 0);
	expect_int(r.attempts, 2);
}

int main(void)
{
	test_pure();
	test_retryable_vs_final();
	test_retry_after();
	test_backoff_grows_capped();
	test_deadline();
	test_cooldown();
	test_exit_budget();
	return harness_done();
}
