/*
 * jemalloc-check: a program linked against Debian's libjemalloc.
 *
 * Its malloc is jemalloc's, and it must stay so under weft (whose own private
 * jemalloc is statically linked and hidden): mallctl works, the malloc symbol
 * the process uses comes from libjemalloc.so, the size classes are
 * jemalloc's, and the per-thread allocation counters see exactly the
 * program's own allocations — weft's hooks running on these threads add
 * nothing. tests/behaviour/behaviour.py requires identical output natively
 * and under weft.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <dlfcn.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jemalloc/jemalloc.h>

static uint64_t thread_allocated(void)
{
	uint64_t v = 0;
	size_t sz = sizeof(v);

	if (mallctl("thread.allocated", &v, &sz, NULL, 0) != 0)
		return UINT64_MAX;
	return v;
}

static uint64_t thread_deallocated(void)
{
	uint64_t v = 0;
	size_t sz = sizeof(v);

	if (mallctl("thread.deallocated", &v, &sz, NULL, 0) != 0)
		return UINT64_MAX;
	return v;
}

static void *volatile sink;

struct seen {
	uint64_t allocated, deallocated; /* deltas over the thread's work */
	size_t usable[6];
	int named;
};

static const size_t sizes[6] = { 1, 100, 1000, 5000, 70000, 1 << 20 };

static void *worker(void *arg)
{
	struct seen *s = arg;
	uint64_t a0 = thread_allocated(), d0 = thread_deallocated();
	char name[16];

	/* Interposed calls on this thread must not allocate from jemalloc. */
	s->named = pthread_setname_np(pthread_self(), "jemalloc-worker") == 0;
	pthread_getname_np(pthread_self(), name, sizeof(name));
	for (int i = 0; i < 6; i++) {
		void *p = malloc(sizes[i]);

		sink = p;
		s->usable[i] = malloc_usable_size(p);
		free(p);
	}
	s->allocated = thread_allocated() - a0;
	s->deallocated = thread_deallocated() - d0;
	return arg;
}

static void *nothing(void *arg)
{
	return arg;
}

/*
 * Four threads allocating and freeing at once, small and large sizes: the
 * large ones take jemalloc's arena and extent mutexes (through
 * pthread_mutex_trylock/lock, weft's hooks), contended.
 */
static void *churn(void *arg)
{
	void *blocks[64];
	int ok = 1;

	for (int round = 0; round < 40; round++) {
		for (int i = 0; i < 64; i++) {
			size_t n = (size_t)1 << ((round + i) % 18);

			blocks[i] = malloc(n);
			ok &= blocks[i] != NULL;
			if (blocks[i])
				memset(blocks[i], i, n < 64 ? n : 64);
		}
		for (int i = 0; i < 64; i++)
			free(blocks[i]);
	}
	return ok ? NULL : (void *)1;
}

int main(void)
{
	enum { N = 4 };
	const char *version = NULL;
	size_t sz = sizeof(version);
	struct seen seen[N];
	pthread_t t[N];
	Dl_info info;
	void *sym;
	int rc = 0;

	if (mallctl("version", &version, &sz, NULL, 0) != 0 || !version) {
		printf("mallctl(version) failed\n");
		return 1;
	}
	printf("jemalloc version: %s\n", version);

	/* The malloc that the process resolves is libjemalloc's. */
	sym = dlsym(RTLD_DEFAULT, "malloc");
	memset(&info, 0, sizeof(info));
	printf("malloc comes from libjemalloc: %d\n",
	       sym && dladdr(sym, &info) && info.dli_fname &&
		       strstr(info.dli_fname, "libjemalloc") != NULL);
	sym = dlsym(RTLD_DEFAULT, "malloc_usable_size");
	printf("malloc_usable_size comes from libjemalloc: %d\n",
	       sym && dladdr(sym, &info) && info.dli_fname &&
		       strstr(info.dli_fname, "libjemalloc") != NULL);

	unsigned narenas = 0;
	sz = sizeof(narenas);
	mallctl("arenas.narenas", &narenas, &sz, NULL, 0);
	printf("arenas.narenas: %u\n", narenas);

	printf("usable sizes in main:");
	for (int i = 0; i < 6; i++) {
		void *p = malloc(sizes[i]);

		sink = p;
		printf(" %zu->%zu", sizes[i], malloc_usable_size(p));
		free(p);
	}
	printf("\n");

	/*
	 * Creating and joining threads allocates on this thread: glibc's TLS
	 * vector (dtv) for each new stack — whose size depends on how many
	 * objects with TLS are loaded, so it is not compared. Once the stacks
	 * are cached, creating and joining allocates nothing, and weft's hooks
	 * must not change that.
	 */
	memset(seen, 0, sizeof(seen));
	for (int i = 0; i < N; i++)
		rc |= pthread_create(&t[i], NULL, nothing, NULL);
	for (int i = 0; i < N; i++)
		rc |= pthread_join(t[i], NULL);
	uint64_t a0 = thread_allocated();
	for (int i = 0; i < N; i++) {
		rc |= pthread_create(&t[i], NULL, worker, &seen[i]);
		rc |= pthread_join(t[i], NULL);
	}
	for (int i = 0; i < N; i++)
		rc |= pthread_create(&t[i], NULL, nothing, NULL);
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += 10;
	rc |= pthread_timedjoin_np(t[0], NULL, &ts);
	rc |= pthread_join(t[1], NULL);
	rc |= pthread_detach(t[2]);
	rc |= pthread_join(t[3], NULL);
	uint64_t a1 = thread_allocated();
	printf("threads: %s\n", rc ? "error" : "ok");
	printf("main: bytes allocated creating and joining threads on cached stacks: %llu\n",
	       (unsigned long long)(a1 - a0));
	for (int i = 0; i < N; i++) {
		printf("worker %d: named=%d allocated=%llu deallocated=%llu usable:", i,
		       seen[i].named, (unsigned long long)seen[i].allocated,
		       (unsigned long long)seen[i].deallocated);
		for (int j = 0; j < 6; j++)
			printf(" %zu", seen[i].usable[j]);
		printf("\n");
	}

	/* aligned and zeroed allocations still behave. */
	void *p = NULL;
	printf("posix_memalign(4096): %d aligned=%d\n", posix_memalign(&p, 4096, 10),
	       ((uintptr_t)p & 4095) == 0);
	free(p);
	unsigned char *c = calloc(100, 100);
	int zero = c != NULL;
	for (int i = 0; c && i < 10000; i++)
		zero &= c[i] == 0;
	printf("calloc zeroed: %d\n", zero);
	free(c);

	rc = 0;
	for (int i = 0; i < N; i++)
		rc |= pthread_create(&t[i], NULL, churn, NULL);
	for (int i = 0; i < N; i++) {
		void *ret = (void *)1;

		rc |= pthread_join(t[i], &ret);
		rc |= ret != NULL;
	}
	printf("concurrent threads: %s\n", rc ? "error" : "ok");
	return 0;
}
