/*
 * worker-pool: the example the README's quick start runs under weft.
 *
 * main starts a "dispatcher" thread and a short-lived "reporter" thread. The
 * dispatcher creates a pool of worker threads ("worker-0", "worker-1", ...),
 * pushes ITEMS work items through a bounded queue guarded by a mutex and two
 * condition variables, then closes the queue and joins the workers. Each item
 * either burns a little CPU or sleeps for 1 ms. Items come in batches of
 * BATCH, as if read from an input, the dispatcher pausing 5 ms after pushing
 * each: a batch is more than the queue holds, so the dispatcher waits for
 * room, and in the pause the workers usually run out of items and wait for
 * the next (both waits start tasks under weft). The reporter waits until half
 * of the items are done, says so, and returns; main joins it, then the
 * dispatcher.
 *
 * With the defaults (-n 200 -w 4) the run creates exactly 6 threads: the
 * dispatcher, 4 workers and the reporter, so tests can count thread spans.
 * The output does not depend on scheduling: the checksum is a function of the
 * items alone.
 *
 * The start routines are not static, so that with -rdynamic dladdr() can name
 * them in span attributes.
 *
 *     worker-pool [-n ITEMS] [-w WORKERS]
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* pthread_setname_np */
#endif

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

enum {
	QUEUE_CAPACITY = 16, /* small, so the dispatcher also waits on the queue */
	BATCH = 24,          /* items the dispatcher has at once */
	BATCH_GAP_NS = 5000000,
	MAX_WORKERS = 64,
	MAX_ITEMS = 1000000,
	CPU_ROUNDS = 20000,
};

/* The work queue: a ring of item numbers, shared by everyone below. */
struct pool {
	pthread_mutex_t lock;
	pthread_cond_t not_empty; /* a worker waits for an item */
	pthread_cond_t not_full;  /* the dispatcher waits for room */
	pthread_cond_t progress;  /* the reporter waits for half the items */
	unsigned items[QUEUE_CAPACITY];
	unsigned head, count;
	int closed;        /* no more items will be pushed */
	unsigned total;    /* items the dispatcher will push */
	unsigned done;     /* items processed so far */
	uint64_t checksum; /* sum of the items' results */
	unsigned nworkers;
};

struct worker_arg {
	struct pool *pool;
	unsigned index;
};

void *dispatcher(void *arg);
void *worker(void *arg);
void *reporter(void *arg);

static void die(const char *what, int err)
{
	fprintf(stderr, "worker-pool: %s: %s\n", what, strerror(err));
	exit(1);
}

/* Wrappers that stop the program on an error: this is an example. */
static void lock(pthread_mutex_t *m)
{
	int err = pthread_mutex_lock(m);
	if (err != 0)
		die("pthread_mutex_lock", err);
}

static void unlock(pthread_mutex_t *m)
{
	int err = pthread_mutex_unlock(m);
	if (err != 0)
		die("pthread_mutex_unlock", err);
}

static void wait_on(pthread_cond_t *c, pthread_mutex_t *m)
{
	int err = pthread_cond_wait(c, m);
	if (err != 0)
		die("pthread_cond_wait", err);
}

static pthread_t start(void *(*routine)(void *), void *arg)
{
	pthread_t t;
	int err = pthread_create(&t, NULL, routine, arg);
	if (err != 0)
		die("pthread_create", err);
	return t;
}

static void join(pthread_t t)
{
	int err = pthread_join(t, NULL);
	if (err != 0)
		die("pthread_join", err);
}

static void name_self(const char *name)
{
	/* Best effort: a name is only a label. */
	(void)pthread_setname_np(pthread_self(), name);
}

/* Sleeps ns nanoseconds (< 1 s), through signals. */
static void nap(long ns)
{
	struct timespec ts = { .tv_sec = 0, .tv_nsec = ns };

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

/*
 * The work itself. Odd items burn a little CPU (a xorshift loop); even items
 * sleep for 1 ms, like a thread waiting on a device or a peer. Both return a
 * value that depends on the item only.
 */
static uint64_t process(unsigned item)
{
	if (item % 2 == 0) {
		nap(1000000);
		return item;
	}
	uint64_t x = 0x9e3779b97f4a7c15u ^ item;
	for (int i = 0; i < CPU_ROUNDS; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
	}
	return x;
}

/* A worker takes items until the queue is closed and empty. */
void *worker(void *arg)
{
	struct worker_arg *w = arg;
	struct pool *p = w->pool;
	char name[16];

	snprintf(name, sizeof(name), "worker-%u", w->index);
	name_self(name);

	for (;;) {
		lock(&p->lock);
		while (p->count == 0 && !p->closed)
			wait_on(&p->not_empty, &p->lock);
		if (p->count == 0) { /* closed and drained */
			unlock(&p->lock);
			break;
		}
		unsigned item = p->items[p->head];
		p->head = (p->head + 1) % QUEUE_CAPACITY;
		p->count--;
		pthread_cond_signal(&p->not_full);
		unlock(&p->lock);

		uint64_t result = process(item);

		lock(&p->lock);
		p->checksum += result;
		p->done++;
		if (p->done == p->total / 2)
			pthread_cond_broadcast(&p->progress);
		unlock(&p->lock);
	}
	return NULL;
}

/* The dispatcher owns the pool: it starts the workers, feeds them, stops them. */
void *dispatcher(void *arg)
{
	struct pool *p = arg;
	pthread_t threads[MAX_WORKERS];
	struct worker_arg args[MAX_WORKERS];

	name_self("dispatcher");

	for (unsigned i = 0; i < p->nworkers; i++) {
		args[i] = (struct worker_arg){ .pool = p, .index = i };
		threads[i] = start(worker, &args[i]);
	}

	for (unsigned item = 0; item < p->total; item++) {
		if (item && item % BATCH == 0)
			nap(BATCH_GAP_NS); /* the next batch, a while later */
		lock(&p->lock);
		while (p->count == QUEUE_CAPACITY)
			wait_on(&p->not_full, &p->lock);
		p->items[(p->head + p->count) % QUEUE_CAPACITY] = item;
		p->count++;
		pthread_cond_signal(&p->not_empty);
		unlock(&p->lock);
	}

	/* Close the queue: the workers finish what is left and return. */
	lock(&p->lock);
	p->closed = 1;
	pthread_cond_broadcast(&p->not_empty);
	unlock(&p->lock);

	for (unsigned i = 0; i < p->nworkers; i++)
		join(threads[i]);
	return NULL;
}

/* The reporter waits until half of the items are done, says so, and returns. */
void *reporter(void *arg)
{
	struct pool *p = arg;

	name_self("reporter");

	lock(&p->lock);
	while (p->done < p->total / 2)
		wait_on(&p->progress, &p->lock);
	unlock(&p->lock);

	printf("worker-pool: half of the %u items done\n", p->total);
	return NULL;
}

static unsigned parse_count(const char *s, unsigned min, unsigned max, const char *what)
{
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < (long)min || v > (long)max) {
		fprintf(stderr, "worker-pool: %s must be a number from %u to %u, not \"%s\"\n",
			what, min, max, s);
		exit(2);
	}
	return (unsigned)v;
}

int main(int argc, char **argv)
{
	static struct pool pool = {
		.lock = PTHREAD_MUTEX_INITIALIZER,
		.not_empty = PTHREAD_COND_INITIALIZER,
		.not_full = PTHREAD_COND_INITIALIZER,
		.progress = PTHREAD_COND_INITIALIZER,
		.total = 200,
		.nworkers = 4,
	};
	int opt;

	while ((opt = getopt(argc, argv, "n:w:h")) != -1) {
		switch (opt) {
		case 'n':
			pool.total = parse_count(optarg, 0, MAX_ITEMS, "ITEMS");
			break;
		case 'w':
			pool.nworkers = parse_count(optarg, 1, MAX_WORKERS, "WORKERS");
			break;
		case 'h':
			printf("usage: worker-pool [-n ITEMS] [-w WORKERS]\n");
			return 0;
		default:
			fprintf(stderr, "usage: worker-pool [-n ITEMS] [-w WORKERS]\n");
			return 2;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "usage: worker-pool [-n ITEMS] [-w WORKERS]\n");
		return 2;
	}

	pthread_t d = start(dispatcher, &pool);
	pthread_t r = start(reporter, &pool);
	join(r);
	join(d);

	if (pool.done != pool.total) {
		fprintf(stderr, "worker-pool: %u of %u items processed\n", pool.done, pool.total);
		return 1;
	}
	printf("worker-pool: %u items processed by %u workers (checksum %016" PRIx64 ")\n",
	       pool.done, pool.nworkers, pool.checksum);
	return 0;
}
