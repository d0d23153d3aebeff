/*
 * Stack capture (agent/unwind.c): a stack through three known functions comes
 * back caller first, with exactly the return addresses the calls left; the
 * frame limit is honoured; errno is kept; nothing is allocated with the
 * program's malloc (counted by wrapping it here); a thread's first capture,
 * right at its start, works; concurrent captures on several threads agree.
 */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/unwind.h"
#include "tests/unit/harness.h"

/* --- The program's malloc, counted on a thread while it captures ---------- */

/*
 * Sanitizer builds bring their own malloc; counting is done in the plain
 * build only (COUNTING is 0 under ASan or TSan, and the checks pass vacuously).
 */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define COUNTING 0
static __thread int counting;
static _Atomic long allocations;
#else
#define COUNTING 1
void *__libc_malloc(size_t n);
void *__libc_calloc(size_t n, size_t m);
void *__libc_realloc(void *p, size_t n);
void __libc_free(void *p);

static __thread int counting;
static _Atomic long allocations;

void *malloc(size_t n)
{
	if (counting)
		allocations++;
	return __libc_malloc(n);
}

void *calloc(size_t n, size_t m)
{
	if (counting)
		allocations++;
	return __libc_calloc(n, m);
}

void *realloc(void *p, size_t n)
{
	if (counting)
		allocations++;
	return __libc_realloc(p, n);
}

void free(void *p)
{
	__libc_free(p);
}
#endif

/* --- Three known frames --------------------------------------------------- */

struct probe {
	uintptr_t pcs[WEFT_UNWIND_MAX_FRAMES];
	int n;
	int max;
	uintptr_t ra_into_level2; /* where level3 returns to */
	uintptr_t ra_into_level1; /* where level2 returns to */
	int errno_after;
	long allocs;
};

/* Each level is a real frame: not inlined, and no tail call (the barrier). */
__attribute__((noinline)) static void level3(struct probe *p)
{
	p->ra_into_level2 = (uintptr_t)__builtin_return_address(0);
	errno = EAGAIN;
	counting = 1;
	p->n = weft_unwind_capture(p->pcs, p->max);
	counting = 0;
	p->errno_after = errno;
	__asm__ volatile("" ::: "memory");
}

__attribute__((noinline)) static void level2(struct probe *p)
{
	p->ra_into_level1 = (uintptr_t)__builtin_return_address(0);
	level3(p);
	__asm__ volatile("" ::: "memory");
}

__attribute__((noinline)) static void level1(struct probe *p)
{
	level2(p);
	__asm__ volatile("" ::: "memory");
}

static bool within(uintptr_t pc, void (*fn)(struct probe *))
{
	/* A return address lies after the function's entry, well within it. */
	return pc > (uintptr_t)fn && pc < (uintptr_t)fn + 1024;
}

static void check_known_frames(const struct probe *p, const char *where)
{
	printf("%s: %d frames\n", where, p->n);
	assert_true(p->n >= 3);
	expect_true(within(p->pcs[0], level3));
	expect_true(p->pcs[1] == p->ra_into_level2);
	expect_true(p->pcs[2] == p->ra_into_level1);
	expect_true(within(p->pcs[1], level2));
	expect_true(within(p->pcs[2], level1));
	expect_int(p->errno_after, EAGAIN);
}

static void test_known_frames(void)
{
	struct probe p = { .max = WEFT_UNWIND_MAX_FRAMES };

	allocations = 0;
	level1(&p);
	check_known_frames(&p, "main thread");
	/* The frames below main: main itself, libc's start, _start. */
	expect_true(p.n > 3 && p.n < WEFT_UNWIND_MAX_FRAMES);
	/* The first capture of the process (one-time unwinder set-up) included. */
	expect_int(allocations, 0);
}

static void test_limits(void)
{
	struct probe p = { .max = 2 };
	uintptr_t sentinel[4] = { 1, 2, 3, 4 };

	level1(&p);
	expect_int(p.n, 2);
	expect_true(within(p.pcs[0], level3));
	expect_true(p.pcs[1] == p.ra_into_level2);
	p.max = 1;
	level1(&p);
	expect_int(p.n, 1);
	expect_int(weft_unwind_capture(sentinel, 0), 0);
	expect_int(weft_unwind_capture(sentinel, -1), 0);
	expect_int(weft_unwind_capture(NULL, 4), 0);
	expect_int(sentinel[0], 1);
}

/* Deeper than the limit: exactly max frames, the innermost ones. */
__attribute__((noinline)) static int recurse(int n, struct probe *p)
{
	int r;

	if (n == 0) {
		level1(p);
		return p->n;
	}
	r = recurse(n - 1, p);
	__asm__ volatile("" ::: "memory");
	return r;
}

static void test_deep(void)
{
	struct probe p = { .max = WEFT_UNWIND_MAX_FRAMES };

	expect_int(recurse(200, &p), WEFT_UNWIND_MAX_FRAMES);
	check_known_frames(&p, "200 frames deep");
}

/* A thread's very first action is a capture; several threads at once. */
static pthread_barrier_t go;

static void *thread_main(void *arg)
{
	struct probe *p = arg;

	level1(p);
	pthread_barrier_wait(&go);
	for (int i = 0; i < 2000; i++)
		level1(p);
	return NULL;
}

static void test_threads(void)
{
	enum { N = 4 };
	struct probe probes[N];
	pthread_t t[N];

	memset(probes, 0, sizeof(probes));
	pthread_barrier_init(&go, NULL, N);
	allocations = 0;
	for (int i = 0; i < N; i++) {
		probes[i].max = WEFT_UNWIND_MAX_FRAMES;
		assert_int(pthread_create(&t[i], NULL, thread_main, &probes[i]), 0);
	}
	for (int i = 0; i < N; i++)
		pthread_join(t[i], NULL);
	for (int i = 0; i < N; i++)
		check_known_frames(&probes[i], "thread");
	/* Counted only inside captures: the threads' own creation is not. */
	expect_int(allocations, 0);
	pthread_barrier_destroy(&go);
}

int main(void)
{
	if (!COUNTING)
		printf("sanitizer build: allocations are not counted\n");
	test_known_frames();
	test_limits();
	test_deep();
	test_threads();
	return harness_done();
}
