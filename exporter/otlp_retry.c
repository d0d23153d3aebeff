/*
 * The retry policy of the otlp output: see otlp_retry.h.
 */
#include <errno.h>
#include <stdio.h>
#include <unistd.h>

#include "agent/agent.h"
#include "agent/clock.h"
#include "agent/ids.h"
#include "exporter/otlp_retry.h"

bool weft_otlp_status_retryable(long status)
{
	return status == 429 || status == 502 || status == 503 || status == 504;
}

uint64_t weft_otlp_backoff_next(uint64_t backoff)
{
	return backoff < WEFT_OTLP_BACKOFF_MAX / 2 ? backoff * 2 : WEFT_OTLP_BACKOFF_MAX;
}

uint64_t weft_otlp_jitter(uint64_t backoff, uint64_t random)
{
	return backoff / 2 + backoff / 1024 * (random % 1024);
}

bool weft_otlp_retry_after_parse(const char *s, time_t now,
				 time_t (*getdate)(const char *s, const time_t *unused),
				 uint64_t *ns)
{
	uint64_t secs = 0;
	const char *p = s;
	time_t when;

	if (!*s)
		return false;
	while (*p >= '0' && *p <= '9') {
		/* Saturates: a huge value means "later than any deadline". */
		if (secs < UINT64_C(1) << 32)
			secs = secs * 10 + (uint64_t)(*p - '0');
		p++;
	}
	if (p != s && !*p) {
		*ns = secs * WEFT_OTLP_NSEC_PER_SEC;
		return true;
	}
	if (!getdate)
		return false;
	when = getdate(s, NULL);
	if (when == (time_t)-1)
		return false;
	*ns = when > now ? (uint64_t)(when - now) * WEFT_OTLP_NSEC_PER_SEC : 0;
	return true;
}

uint64_t weft_otlp_try_deadline(struct weft_otlp_try *t)
{
	struct weft_otlp_exit *ex = t->exit;
	uint64_t cut;

	if (!ex->seen_ns && t->env->exiting(t->env->arg))
		ex->seen_ns = t->env->now(t->env->arg);
	if (!ex->seen_ns)
		return t->deadline;
	cut = weft_clock_after(ex->seen_ns, ex->budget_ns);
	return cut < t->deadline ? cut : t->deadline;
}

uint64_t weft_otlp_try_limit(struct weft_otlp_try *t)
{
	uint64_t d = weft_otlp_try_deadline(t), now = t->env->now(t->env->arg);
	uint64_t left = d > now ? d - now : 0;

	return left < t->request_timeout_ns ? left : t->request_timeout_ns;
}

/*
 * Waits until wake, or returns false when an attempt then would come too
 * late. Once the program is exiting, a backoff (not a server's Retry-After,
 * which is honoured as sent) is cut to half of what is left of the budget,
 * so that an export that failed just before the exit gets another attempt
 * within it rather than none.
 */
static bool wait_until(struct weft_otlp_try *t, uint64_t wake, bool retry_after)
{
	for (;;) {
		uint64_t d = weft_otlp_try_deadline(t), now = t->env->now(t->env->arg);

		if (t->exit->seen_ns && !retry_after && d > now && wake > now + (d - now) / 2)
			wake = now + (d - now) / 2;
		if (weft_clock_after(wake, WEFT_OTLP_MIN_ATTEMPT) > d)
			return false;
		if (now >= wake)
			return true;
		t->env->sleep(t->env->arg, wake - now < WEFT_OTLP_NAP ? wake - now : WEFT_OTLP_NAP);
	}
}

int weft_otlp_retry_send(struct weft_otlp_retry *st, const struct weft_otlp_env *env,
			 struct weft_otlp_exit *ex, const struct weft_otlp_transport *tr,
			 uint64_t export_timeout_ns, uint64_t request_timeout_ns,
			 const uint8_t *body, size_t len, struct weft_otlp_result *res)
{
	uint64_t now = env->now(env->arg), backoff = WEFT_OTLP_BACKOFF_INITIAL, wake;
	struct weft_otlp_try t = { .env = env,
				   .exit = ex,
				   .deadline = weft_clock_after(now, export_timeout_ns),
				   .request_timeout_ns = request_timeout_ns };
	bool once = false, broken_retried = false;

	*res = (struct weft_otlp_result){ .err = -ETIMEDOUT };
	res->f.err = -ETIMEDOUT;
	res->f.kind = 998;
	snprintf(res->f.why, sizeof(res->f.why), "no time left before the export deadline");
	if (now < st->quiet_until) {
		/*
		 * The collector was found down moments ago: fail at once, but at
		 * exit try once more (without retrying) rather than keep the last
		 * data from a collector that may be back.
		 */
		weft_otlp_try_deadline(&t);
		if (!ex->seen_ns) {
			res->cooling = true;
			res->err = res->f.err = st->quiet_err;
			snprintf(res->f.why, sizeof(res->f.why),
				 "the collector was found down moments ago");
			return res->err;
		}
		once = true;
	}
	for (;;) {
		if (weft_clock_after(env->now(env->arg), WEFT_OTLP_MIN_ATTEMPT) >
		    weft_otlp_try_deadline(&t))
			break;
		res->attempts++;
		switch (tr->attempt(tr->arg, body, len, &t, &res->f)) {
		case WEFT_OTLP_SENT:
			res->err = 0;
			return 0;
		case WEFT_OTLP_FINAL:
			res->final = true;
			res->err = res->f.err;
			return res->err;
		case WEFT_OTLP_RETRY:
			break;
		}
		weft_otlp_try_deadline(&t);
		if (once)
			break;
		if (ex->seen_ns && res->f.transport) {
			/* Exiting: only a connection that broke is tried again, once, at once. */
			if (!res->f.broken || broken_retried)
				break;
			broken_retried = true;
			continue;
		}
		wake = weft_clock_after(env->now(env->arg),
					res->f.has_retry_after
						? res->f.retry_after_ns
						: weft_otlp_jitter(backoff, env->random(env->arg)));
		backoff = weft_otlp_backoff_next(backoff);
		if (!wait_until(&t, wake, res->f.has_retry_after))
			break;
	}
	if (res->attempts) {
		/* The other signal's collector, if it is the same, is down too. */
		st->quiet_until = weft_clock_after(env->now(env->arg), WEFT_OTLP_COOLDOWN);
		st->quiet_err = res->f.err;
		if (st->sibling) {
			st->sibling->quiet_until = st->quiet_until;
			st->sibling->quiet_err = res->f.err;
		}
	}
	res->err = res->f.err;
	return res->err;
}

/* --- The real world ------------------------------------------------------ */

static uint64_t real_now(void *arg)
{
	return weft_clock_now();
}

static void (*nap_hook)(void);

void weft_otlp_set_nap_hook(void (*hook)(void))
{
	nap_hook = hook;
}

static bool real_exiting(void *arg);

static void real_sleep(void *arg, uint64_t ns)
{
	uint64_t until = weft_clock_after(weft_clock_now(), ns), now;
	struct timespec ts;

	/* While a request waits to be retried, the rest of the exporter's work goes on. */
	if (nap_hook && !real_exiting(arg))
		nap_hook();
	now = weft_clock_now();
	if (now >= until)
		return;
	ts.tv_sec = (time_t)((until - now) / WEFT_OTLP_NSEC_PER_SEC);
	ts.tv_nsec = (long)((until - now) % WEFT_OTLP_NSEC_PER_SEC);
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

static uint64_t real_random(void *arg)
{
	static struct weft_rng rng;
	static pid_t seeded;

	/* Seeded per process, so that forked children do not back off in step. */
	if (seeded != getpid()) {
		seeded = getpid();
		weft_ids_seed(&rng, (uint64_t)seeded ^ 0x6f746c70u);
	}
	return weft_ids_next(&rng);
}

static bool real_exiting(void *arg)
{
	return weft_load_acquire(&weft_process.exit_code_set) ||
	       weft_load_acquire(&weft_process.exiting);
}

const struct weft_otlp_env *weft_otlp_env_real(void)
{
	static const struct weft_otlp_env env = {
		.now = real_now, .sleep = real_sleep, .random = real_random, .exiting = real_exiting
	};

	return &env;
}
