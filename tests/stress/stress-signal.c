/*
 * Recording from signal handlers: a signal storm against a thread that
 * records continuously, with exact accounting.
 *
 * The producer thread registers a state, as weft does for a program thread,
 * and records events with weft_record as fast as it can. A second thread
 * sends it SIGUSR1 in a tight loop; the handler records events of its own
 * into the same ring, often while the interrupted frame is half-way through
 * a push (the handler counts how often it found a push in progress, and the
 * test requires that to have happened, or it proved nothing). A consumer
 * thread drains the ring concurrently through the registry protocol, with a
 * small ring so that it fills and drops. The ring starts in its inline slots
 * and grows into its own while signals arrive.
 *
 * Every record carries (context, sequence) and all 64 bytes derive from
 * them, so a torn, stale or overwritten slot shows. At the end:
 *
 *	consumed(main) + consumed(handler) + dropped == attempted(main) + attempted(handler)
 *	consumed(ctx) == pushes that returned true (ctx), for each context
 *
 * and each context's records arrive in order, without repeats or gaps other
 * than its own counted drops. Runs WEFT_STRESS_SECONDS (default 3).
 */
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "agent/agent.h"
#include "agent/clock.h"
#include "agent/registry.h"
#include "tests/unit/harness.h"

/*
 * ThreadSanitizer defers a signal to its next interceptor or atomic
 * operation: a handler lands mid-push only where the push makes one (it does,
 * often), and not every run gets one there.
 */
#ifdef __SANITIZE_THREAD__
#define SANITIZE_THREAD 1
#else
#define SANITIZE_THREAD 0
#endif

enum { CAP = 256, CTX_MAIN = 0, CTX_HANDLER = 1, N_CTX = 2 };

/* Producer side, per context: written by the producer thread (and its handler). */
struct prod {
	uint64_t attempted, pushed, seq;
};

static struct prod prods[N_CTX];
static _Atomic uint64_t handler_runs, handler_nested;
static struct weft_thread *producer;
static atomic_bool stop, ready;
static pthread_t producer_th;

/* Consumer side, per context. */
static struct {
	uint64_t consumed, next, bad, order;
} cons[N_CTX];
static uint64_t total_dropped;

static void make_event(uint32_t ctx, uint64_t seq, struct weft_event *ev)
{
	uint64_t k = ((uint64_t)ctx << 56) ^ seq;

	ev->h.type = WEFT_EV_WAIT;
	ev->h.kind = (uint8_t)ctx;
	ev->h.flags = (uint16_t)(k * 31);
	ev->h.result = (int32_t)(uint32_t)(k * 2654435761u);
	ev->h.t0 = seq;
	for (int i = 0; i < 6; i++)
		ev->u.raw[i] = k * 0x9e3779b97f4a7c15ull + (uint64_t)i * 0xff51afd7ed558ccdull;
}

static void record(uint32_t ctx)
{
	struct prod *p = &prods[ctx];
	struct weft_event ev;

	make_event(ctx, p->seq++, &ev);
	p->attempted++;
	if (weft_record(producer, &ev))
		p->pushed++;
}

static void on_signal(int sig)
{
	/* A push in progress on this thread: the case the ring must survive. */
	if (weft_load_relaxed(&producer->ring.nest) != 0)
		weft_fetch_add_relaxed(&handler_nested, 1);
	weft_fetch_add_relaxed(&handler_runs, 1);
	record(CTX_HANDLER);
	record(CTX_HANDLER);
}

static void *producer_main(void *arg)
{
	/* Inline slots first: the ring grows during the storm (weft_record). */
	producer = weft_registry_alloc(CAP);
	if (!producer)
		abort();
	producer->origin = WEFT_THREAD_ADOPTED;
	producer->tid = 1;
	producer->self = pthread_self();
	producer->start_ns = weft_clock_now();
	weft_self_set(producer);
	weft_registry_push(producer);
	atomic_store(&ready, true);
	while (!atomic_load_explicit(&stop, memory_order_relaxed))
		record(CTX_MAIN);
	/* No signal may arrive after we leave: block it before handing the state over. */
	{
		sigset_t set;

		sigemptyset(&set);
		sigaddset(&set, SIGUSR1);
		pthread_sigmask(SIG_BLOCK, &set, NULL);
	}
	return NULL;
}

static void *storm_main(void *arg)
{
	struct timespec ts = { 0, 20000 };

	while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
		pthread_kill(producer_th, SIGUSR1);
		nanosleep(&ts, NULL);
	}
	return NULL;
}

static void on_event(struct weft_thread *t, const struct weft_event *ev, void *arg)
{
	uint32_t ctx = ev->h.kind;
	struct weft_event want;

	if (ctx >= N_CTX) {
		cons[0].bad++;
		return;
	}
	make_event(ctx, ev->h.t0, &want);
	if (memcmp(&want, ev, sizeof(want)) != 0)
		cons[ctx].bad++;
	if (ev->h.t0 < cons[ctx].next)
		cons[ctx].order++;
	cons[ctx].next = ev->h.t0 + 1;
	cons[ctx].consumed++;
}

static void on_drained(struct weft_thread *t, uint64_t new_drops, void *arg)
{
	total_dropped += new_drops;
}

static const struct weft_registry_visitor visitor = {
	.event = on_event,
	.drained = on_drained,
};

static double seconds_from_env(void)
{
	const char *s = getenv("WEFT_STRESS_SECONDS");
	double v = s ? strtod(s, NULL) : 0;

	return v > 0 ? v : 3.0;
}

int main(void)
{
	struct weft_registry_reader reader = { 0 };
	struct sigaction sa;
	pthread_t storm;
	uint64_t deadline = weft_clock_now() + (uint64_t)(seconds_from_env() * 1e9);
	uint64_t attempted, consumed;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = SA_RESTART;
	assert_int(sigaction(SIGUSR1, &sa, NULL), 0);
	assert_int(pthread_create(&producer_th, NULL, producer_main, NULL), 0);
	while (!atomic_load(&ready))
		sched_yield();
	assert_int(pthread_create(&storm, NULL, storm_main, NULL), 0);
	/*
	 * Run for the configured time, and on a loaded machine longer (up to
	 * ten times), until enough signals have landed, some of them mid-push.
	 */
	while (weft_clock_now() < deadline ||
	       ((handler_runs < 2000 || (!handler_nested && !SANITIZE_THREAD)) &&
		weft_clock_now() < deadline + 9 * (uint64_t)(seconds_from_env() * 1e9)))
		weft_registry_cycle(&reader, &visitor, NULL);
	atomic_store(&stop, true);
	assert_int(pthread_join(storm, NULL), 0);
	assert_int(pthread_join(producer_th, NULL), 0);
	/* Everything recorded is published by now: one last drain takes the rest. */
	weft_registry_cycle(&reader, &visitor, NULL);

	attempted = prods[CTX_MAIN].attempted + prods[CTX_HANDLER].attempted;
	consumed = cons[CTX_MAIN].consumed + cons[CTX_HANDLER].consumed;
	printf("main: %llu recorded, %llu consumed; handler: %llu runs (%llu mid-push), "
	       "%llu recorded, %llu consumed; %llu dropped\n",
	       (unsigned long long)prods[CTX_MAIN].attempted,
	       (unsigned long long)cons[CTX_MAIN].consumed, (unsigned long long)handler_runs,
	       (unsigned long long)handler_nested, (unsigned long long)prods[CTX_HANDLER].attempted,
	       (unsigned long long)cons[CTX_HANDLER].consumed, (unsigned long long)total_dropped);
	expect_true(handler_runs >= 2000);
	if (!SANITIZE_THREAD)
		expect_true(handler_nested > 0);
	expect_int(consumed + total_dropped, attempted);
	expect_int(weft_ring_dropped(&producer->ring), total_dropped);
	for (int c = 0; c < N_CTX; c++) {
		expect_int(cons[c].consumed, prods[c].pushed);
		expect_int(cons[c].bad, 0);
		expect_int(cons[c].order, 0);
	}
	expect_int(weft_ring_pending(&producer->ring), 0);
	return harness_done();
}
