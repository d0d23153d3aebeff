/*
 * alloc-check: glibc's allocator, observed from the program's side.
 *
 * weft must leave the program's allocator exactly as it was: the same size
 * classes, the same statistics, the same failure modes, in every thread. The
 * agent allocates from its own private jemalloc, so none of its memory shows
 * up here. tests/behaviour/behaviour.py runs this natively and under weft and
 * requires identical output.
 *
 * Printed: malloc_usable_size for a range of sizes in several threads,
 * mallinfo2() deltas around allocations (booleans: "grew by about the
 * request"), malloc_trim, the alignment and error behaviour of
 * posix_memalign, aligned_alloc, memalign, realloc and calloc, and the number
 * of arenas (malloc_info) — a thread that allocated from glibc's malloc on
 * weft's behalf would show up as one more.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SENTINEL 1234

static const size_t sizes[] = { 0,    1,    8,     24,     25,     100,     1000,
				4000, 4096, 65536, 100000, 131072, 1 << 20, 3 << 20 };
#define NSIZES (sizeof(sizes) / sizeof(sizes[0]))

static const char *ename(int e)
{
	static char buf[32];

	/* clang-format off */
	switch (e) {
	case 0: return "0";
	case SENTINEL: return "kept";
	case EINVAL: return "EINVAL";
	case ENOMEM: return "ENOMEM";
	default: snprintf(buf, sizeof(buf), "%d", e); return buf;
	}
	/* clang-format on */
}

/* What one thread saw; printed by main after the join, in thread order. */
struct seen {
	size_t usable[NSIZES];
	int zeroed;       /* calloc memory was zero */
	int realloc_kept; /* realloc kept the contents */
	int aligned;      /* every aligned allocation was aligned */
	int errno_kept;
};

static void exercise(struct seen *s)
{
	void *p[NSIZES];
	int ok;

	errno = SENTINEL;
	for (size_t i = 0; i < NSIZES; i++) {
		p[i] = malloc(sizes[i]);
		s->usable[i] = p[i] ? malloc_usable_size(p[i]) : 0;
		if (p[i])
			memset(p[i], 0xa5, sizes[i]);
	}
	for (size_t i = 0; i < NSIZES; i++)
		free(p[i]);

	unsigned char *c = calloc(1000, 7);
	ok = c != NULL;
	for (size_t i = 0; c && i < 7000; i++)
		ok &= c[i] == 0;
	s->zeroed = ok;
	free(c);

	char *r = malloc(100);
	ok = r != NULL;
	if (r) {
		for (int i = 0; i < 100; i++)
			r[i] = (char)i;
		r = realloc(r, 200000);
		for (int i = 0; r && i < 100; i++)
			ok &= r[i] == (char)i;
		r = realloc(r, 10);
		for (int i = 0; r && i < 10; i++)
			ok &= r[i] == (char)i;
		free(r);
	}
	s->realloc_kept = ok;

	ok = 1;
	for (size_t al = 16; al <= 65536; al *= 4) {
		void *a = NULL;

		ok &= posix_memalign(&a, al, 333) == 0 && ((uintptr_t)a & (al - 1)) == 0;
		free(a);
		a = aligned_alloc(al, al * 3);
		ok &= a && ((uintptr_t)a & (al - 1)) == 0;
		free(a);
		a = memalign(al, 77);
		ok &= a && ((uintptr_t)a & (al - 1)) == 0;
		free(a);
	}
	s->aligned = ok;
	s->errno_kept = errno == SENTINEL;
}

static void *thread_main(void *arg)
{
	exercise(arg);
	return arg;
}

static void print_seen(const char *who, const struct seen *s)
{
	printf("%s usable:", who);
	for (size_t i = 0; i < NSIZES; i++)
		printf(" %zu->%zu", sizes[i], s->usable[i]);
	printf("\n%s calloc zeroed=%d realloc kept=%d aligned=%d errno kept=%d\n", who, s->zeroed,
	       s->realloc_kept, s->aligned, s->errno_kept);
}

/* Arenas in use, counted from malloc_info's XML. */
static int arenas(void)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	int n = 0;

	if (!f)
		return -1;
	malloc_info(0, f);
	fclose(f);
	for (char *q = buf; (q = strstr(q, "<heap nr=")) != NULL; q++)
		n++;
	free(buf);
	return n;
}

/* Opaque to the compiler, which would otherwise reject the sizes at build time. */
static volatile size_t size_max = SIZE_MAX;

static void errors(void)
{
	void *p;
	int rc;

	errno = SENTINEL;
	p = malloc(size_max);
	printf("malloc(SIZE_MAX): %s errno=%s\n", p ? "ptr" : "NULL", ename(errno));
	free(p);
	errno = SENTINEL;
	p = calloc(size_max / 2, 4);
	printf("calloc overflow: %s errno=%s\n", p ? "ptr" : "NULL", ename(errno));
	free(p);
	errno = SENTINEL;
	p = malloc(10);
	void *q = realloc(p, size_max - 4096);
	printf("realloc huge: %s errno=%s original intact=%d\n", q ? "ptr" : "NULL", ename(errno),
	       q == NULL && malloc_usable_size(p) >= 10);
	free(q ? q : p);
	errno = SENTINEL;
	p = NULL;
	rc = posix_memalign(&p, 3, 16);
	printf("posix_memalign(3): rc=%s errno=%s\n", ename(rc), ename(errno));
	free(p);
	errno = SENTINEL;
	p = NULL;
	rc = posix_memalign(&p, 64, size_max - 4096);
	printf("posix_memalign(huge): rc=%s errno=%s\n", ename(rc), ename(errno));
	free(p);
	errno = SENTINEL;
	p = aligned_alloc(3, 16);
	printf("aligned_alloc(3): %s errno=%s\n", p ? "ptr" : "NULL", ename(errno));
	free(p);
	errno = SENTINEL;
	p = realloc(NULL, 50);
	printf("realloc(NULL, 50): %s usable=%zu errno=%s\n", p ? "ptr" : "NULL",
	       p ? malloc_usable_size(p) : 0, ename(errno));
	free(p);
	errno = SENTINEL;
	p = valloc(10);
	printf("valloc: page aligned=%d usable=%zu\n", p && ((uintptr_t)p & 4095) == 0,
	       p ? malloc_usable_size(p) : 0);
	free(p);
	p = pvalloc(10);
	printf("pvalloc: page aligned=%d usable=%zu\n", p && ((uintptr_t)p & 4095) == 0,
	       p ? malloc_usable_size(p) : 0);
	free(p);
}

/* Where blocks are published so that the compiler keeps malloc/free pairs. */
static void *volatile sink;

static void statistics(void)
{
	struct mallinfo2 a, b;
	void *p, *big;

	/* A small block: the in-use total grows by about its size. */
	a = mallinfo2();
	sink = p = malloc(10000);
	b = mallinfo2();
	printf("mallinfo2 small: uordblks grew by about the request=%d\n",
	       b.uordblks - a.uordblks >= 10000 && b.uordblks - a.uordblks <= 10000 + 64);
	free(p);
	b = mallinfo2();
	printf("mallinfo2 small: back after free=%d\n", b.uordblks == a.uordblks);

	/* A block above the mmap threshold: counted in hblkhd/hblks. */
	a = mallinfo2();
	sink = big = malloc(4 << 20);
	b = mallinfo2();
	printf("mallinfo2 mmapped: hblks +1=%d hblkhd grew by about the request=%d\n",
	       b.hblks == a.hblks + 1,
	       b.hblkhd - a.hblkhd >= (4u << 20) && b.hblkhd - a.hblkhd <= (4u << 20) + 8192);
	free(big);
	b = mallinfo2();
	printf("mallinfo2 mmapped: back after free=%d\n",
	       b.hblks == a.hblks && b.hblkhd == a.hblkhd);

	/*
	 * mallopt takes effect: with a low threshold 200 KiB is mmapped (once
	 * the top of the heap is trimmed, so that it cannot serve the request).
	 */
	printf("mallopt(M_MMAP_THRESHOLD): %d\n", mallopt(M_MMAP_THRESHOLD, 128 * 1024));
	malloc_trim(0);
	a = mallinfo2();
	sink = big = malloc(200 * 1024);
	b = mallinfo2();
	printf("mallinfo2 after mallopt: mmapped=%d\n", b.hblks == a.hblks + 1);
	free(big);

	/* Free a lot, then trim: the arena gives memory back. */
	void *many[256];
	for (int i = 0; i < 256; i++)
		sink = many[i] = malloc(1000);
	for (int i = 0; i < 256; i++)
		free(many[i]);
	printf("malloc_trim(0): %d\n", malloc_trim(0));
	printf("malloc_trim(0) again: %d\n", malloc_trim(0));
}

int main(void)
{
	enum { THREADS = 6 };
	struct seen main_seen, seen[THREADS];
	pthread_t t[THREADS];
	int rc = 0;

	memset(&main_seen, 0, sizeof(main_seen));
	memset(seen, 0, sizeof(seen));
	exercise(&main_seen);
	print_seen("main", &main_seen);
	statistics();
	printf("arenas after main: %d\n", arenas());

	/* One at a time: each thread reuses the arena the last one released. */
	for (int i = 0; i < 3; i++) {
		rc |= pthread_create(&t[i], NULL, thread_main, &seen[i]);
		rc |= pthread_join(t[i], NULL);
	}
	printf("arenas after sequential threads: %d\n", arenas());
	/* Then several at once. */
	for (int i = 3; i < THREADS; i++)
		rc |= pthread_create(&t[i], NULL, thread_main, &seen[i]);
	for (int i = 3; i < THREADS; i++)
		rc |= pthread_join(t[i], NULL);
	printf("threads created and joined: %s\n", rc ? "error" : "ok");
	for (int i = 0; i < THREADS; i++) {
		char who[16];

		snprintf(who, sizeof(who), "thread%d", i);
		print_seen(who, &seen[i]);
	}
	statistics();
	/*
	 * Last, once the program has threads of its own: in a process that has
	 * only ever had one thread glibc's malloc takes its single-threaded path,
	 * and a failed allocation there creates no arena; with threads it may
	 * retry in a new arena. weft's exporter thread makes every process
	 * multi-threaded, which is visible in that corner only.
	 */
	errors();
	return 0;
}
