/*
 * mutex-malloc: a program whose own malloc takes a pthread mutex.
 *
 * It defines the whole malloc family — a bump allocator over one anonymous
 * mapping — and serialises it with a pthread_mutex_t through the public
 * pthread_mutex_lock/unlock, which under weft are weft's hooks. So the hooks
 * are reached from inside malloc at every moment weft can be in:
 *   - before weft is initialised: linked against libearly.so, whose
 *     constructor creates and joins a thread before weft's constructor runs
 *     (glibc allocates that thread's TLS with this calloc);
 *   - inside dlsym and dlerror while weft resolves its symbols;
 *   - from weft's own pthread_create and fork paths, and from the program's
 *     pthread_atfork handlers, which take the allocator's mutex and another
 *     one across fork(), as real allocators do;
 *   - contended, from four threads at once.
 * Each acquisition must lock for real: the allocator counts calls that
 * found another thread inside it (never, if the mutex excludes) and lock
 * calls that failed. The output is deterministic; behaviour.py requires it
 * identical natively, under weft and with weft disabled.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "early.h"

#define EXPORT     __attribute__((visibility("default")))
#define HEAP_BYTES (1ul << 30)
#define HDR        16 /* the block's size, in front of it */

static pthread_mutex_t heap_lock = PTHREAD_MUTEX_INITIALIZER;
static char *heap, *heap_next, *heap_end;
static atomic_int inside, overlaps, lock_failures;
static atomic_ulong locks;

static void heap_enter(void)
{
	if (pthread_mutex_lock(&heap_lock) != 0)
		atomic_fetch_add(&lock_failures, 1);
	atomic_fetch_add(&locks, 1);
	if (atomic_fetch_add(&inside, 1) != 0)
		atomic_fetch_add(&overlaps, 1);
}

static void heap_leave(void)
{
	atomic_fetch_sub(&inside, 1);
	if (pthread_mutex_unlock(&heap_lock) != 0)
		atomic_fetch_add(&lock_failures, 1);
}

/* A block of `size` bytes aligned to `align` (a power of two, >= 16). */
static void *heap_alloc(size_t size, size_t align)
{
	uintptr_t p;
	void *ret = NULL;

	if (size > HEAP_BYTES)
		return NULL;
	heap_enter();
	if (!heap) {
		heap = mmap(NULL, HEAP_BYTES, PROT_READ | PROT_WRITE,
			    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
		if (heap == MAP_FAILED)
			heap = NULL;
		heap_next = heap;
		heap_end = heap ? heap + HEAP_BYTES : NULL;
	}
	if (heap) {
		p = ((uintptr_t)heap_next + HDR + align - 1) & ~(uintptr_t)(align - 1);
		if (p + size <= (uintptr_t)heap_end) {
			((size_t *)p)[-1] = size;
			heap_next = (char *)(p + size);
			ret = (void *)p;
		}
	}
	heap_leave();
	if (!ret)
		errno = ENOMEM;
	return ret;
}

EXPORT void *malloc(size_t size)
{
	return heap_alloc(size, 16);
}

EXPORT void free(void *p)
{
	if (!p)
		return;
	heap_enter(); /* nothing to give back: the lock is the point */
	heap_leave();
}

EXPORT void *calloc(size_t n, size_t size)
{
	if (size && n > SIZE_MAX / size) {
		errno = ENOMEM;
		return NULL;
	}
	return heap_alloc(n * size, 16); /* fresh mapping: already zero */
}

EXPORT size_t malloc_usable_size(void *p)
{
	return p ? ((size_t *)p)[-1] : 0;
}

EXPORT void *realloc(void *p, size_t size)
{
	void *q = heap_alloc(size, 16);
	size_t old = malloc_usable_size(p);

	if (q && p)
		memcpy(q, p, old < size ? old : size);
	if (q || !size)
		free(p);
	return q;
}

EXPORT void *memalign(size_t align, size_t size)
{
	return heap_alloc(size, align < 16 ? 16 : align);
}

EXPORT int posix_memalign(void **out, size_t align, size_t size)
{
	void *p;

	if (align < sizeof(void *) || (align & (align - 1)))
		return EINVAL;
	p = memalign(align, size);
	if (!p)
		return ENOMEM;
	*out = p;
	return 0;
}

EXPORT void *aligned_alloc(size_t align, size_t size)
{
	return memalign(align, size);
}

EXPORT void *valloc(size_t size)
{
	return memalign(4096, size);
}

EXPORT void *pvalloc(size_t size)
{
	return memalign(4096, (size + 4095) & ~(size_t)4095);
}

/* ------------------------------------------------------------------ the program */

static pthread_mutex_t fork_lock = PTHREAD_MUTEX_INITIALIZER;

static void prepare(void)
{
	pthread_mutex_lock(&fork_lock);
	pthread_mutex_lock(&heap_lock);
}

static void parent(void)
{
	pthread_mutex_unlock(&heap_lock);
	pthread_mutex_unlock(&fork_lock);
}

static void child(void)
{
	pthread_mutex_unlock(&heap_lock);
	pthread_mutex_unlock(&fork_lock);
}

static void *churn(void *arg)
{
	uintptr_t sum = 0;

	for (int i = 0; i < 3000; i++) {
		size_t n = 1 + (size_t)(i * 37 % 500);
		char *p = malloc(n);

		if (!p)
			return (void *)1;
		memset(p, i & 0xff, n);
		sum += (unsigned char)p[n - 1];
		free(p);
	}
	return sum == 0 ? (void *)1 : NULL; /* NULL: ok */
}

static int threads_ok(void)
{
	pthread_t t[4];
	int ok = 1;

	for (int i = 0; i < 4; i++)
		ok &= pthread_create(&t[i], NULL, churn, NULL) == 0;
	for (int i = 0; i < 4; i++) {
		void *ret = (void *)1;

		ok &= pthread_join(t[i], &ret) == 0 && ret == NULL;
	}
	return ok;
}

int main(void)
{
	const struct early_result *e = early_result();
	int status = -1;
	pid_t pid;

	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("early constructor ran: %d, create=%d join=%d value ok=%d\n", e->ran, e->create_rc,
	       e->join_rc, e->value_ok);
	printf("allocator locked before main: %d\n", atomic_load(&locks) > 0);
	printf("threads: %d\n", threads_ok());
	printf("atfork registered: %d\n", pthread_atfork(prepare, parent, child));
	pid = fork();
	if (pid == 0) {
		char *p = strdup("child");
		int ok = p && strcmp(p, "child") == 0 && threads_ok();

		free(p);
		_exit(ok && atomic_load(&overlaps) == 0 && atomic_load(&lock_failures) == 0 ? 0
											    : 1);
	}
	if (pid > 0)
		waitpid(pid, &status, 0);
	printf("child exited normally: %d, status %d\n", pid > 0 && WIFEXITED(status),
	       pid > 0 && WIFEXITED(status) ? WEXITSTATUS(status) : -1);
	printf("threads after fork: %d\n", threads_ok());
	printf("the mutex excluded (overlaps): %d\n", atomic_load(&overlaps));
	printf("lock or unlock failures: %d\n", atomic_load(&lock_failures));
	return 0;
}
