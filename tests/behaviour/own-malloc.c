/*
 * own-malloc: a program that brings its own allocator.
 *
 * It defines malloc, free, calloc, realloc, memalign, posix_memalign,
 * aligned_alloc, valloc, pvalloc and malloc_usable_size itself — a bump
 * allocator over one large anonymous mapping that never reuses memory — and
 * counts every call. glibc (stdio, thread creation, dlerror, ...) and every
 * other library in the process then allocate through it too, exactly as with
 * jemalloc or tcmalloc linked into a program.
 *
 * weft's agent must never call it: the hooks and the exporter allocate from
 * weft's private jemalloc or from mmap. So the counts must be the same with
 * and without weft. They are reported twice:
 *   - on stdout at the end of main (the calls the program's own run caused);
 *   - in the file named by OWN_MALLOC_COUNTS, a shared mapping that the
 *     allocator updates on every call, so that the test reads the final
 *     counts after the process has gone — including anything weft's exit-time
 *     flush allocated.
 * Calls made on threads the program did not start (before main, weft's own
 * thread) are counted separately as "foreign"; free(NULL) separately from
 * free of a block. The counts file holds `unsigned long n[11][2]`, in the
 * order printed, [program, foreign].
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define EXPORT __attribute__((visibility("default")))

enum fn {
	F_MALLOC,
	F_FREE,
	F_FREE_NULL, /* free(NULL): glibc makes these, e.g. one per TLS module */
	F_CALLOC,
	F_REALLOC,
	F_MEMALIGN,
	F_POSIX_MEMALIGN,
	F_ALIGNED_ALLOC,
	F_VALLOC,
	F_PVALLOC,
	F_USABLE_SIZE,
	F_COUNT
};

static const char *const fn_names[F_COUNT] = {
	"malloc",         "free",          "free(NULL)", "calloc",  "realloc",           "memalign",
	"posix_memalign", "aligned_alloc", "valloc",     "pvalloc", "malloc_usable_size"
};

/*
 * The counters, by function and by whether the calling thread is one the
 * program started (main included) or not. Static until the shared file is
 * mapped on the first call.
 */
struct counters {
	atomic_ulong n[F_COUNT][2];
};

static struct counters early_counters;
static _Atomic(struct counters *) counters;
static _Thread_local int program_thread;

static struct counters *get_counters(void)
{
	struct counters *c = atomic_load(&counters);
	const char *path;
	int fd;
	void *m;

	if (c)
		return c;
	path = getenv("OWN_MALLOC_COUNTS");
	if (!path)
		return &early_counters;
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return &early_counters;
	if (ftruncate(fd, sizeof(struct counters)) != 0) {
		close(fd);
		return &early_counters;
	}
	m = mmap(NULL, sizeof(struct counters), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	if (m == MAP_FAILED)
		return &early_counters;
	c = NULL;
	if (!atomic_compare_exchange_strong(&counters, &c, (struct counters *)m)) {
		munmap(m, sizeof(struct counters));
		return c;
	}
	return m;
}

static void count(enum fn f)
{
	atomic_fetch_add(&get_counters()->n[f][program_thread ? 0 : 1], 1);
}

/* ---------------------------------------------------------- the allocator */

#define ARENA_BYTES ((size_t)1 << 34)
#define HDR         16

static _Atomic(char *) arena;
static atomic_size_t arena_used;

static char *get_arena(void)
{
	char *a = atomic_load(&arena);
	char *m, *expected = NULL;

	if (a)
		return a;
	m = mmap(NULL, ARENA_BYTES, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (m == MAP_FAILED)
		return NULL;
	if (!atomic_compare_exchange_strong(&arena, &expected, m)) {
		munmap(m, ARENA_BYTES);
		return expected;
	}
	return m;
}

/* A block of `size` bytes aligned to `align` (a power of two ≥ 16). */
static void *bump(size_t size, size_t align)
{
	char *a = get_arena();
	size_t need, off;
	char *p;

	if (!a || size > ARENA_BYTES || align > ARENA_BYTES / 2) {
		errno = ENOMEM;
		return NULL;
	}
	need = (size + HDR + align + 15) & ~(size_t)15;
	off = atomic_fetch_add(&arena_used, need);
	if (off + need > ARENA_BYTES) {
		errno = ENOMEM;
		return NULL;
	}
	p = a + off + HDR;
	p = (char *)(((uintptr_t)p + align - 1) & ~(uintptr_t)(align - 1));
	((size_t *)p)[-1] = size;
	return p;
}

static size_t block_size(const void *p)
{
	return ((const size_t *)p)[-1];
}

EXPORT void *malloc(size_t size)
{
	count(F_MALLOC);
	return bump(size, 16);
}

EXPORT void free(void *p)
{
	count(p ? F_FREE : F_FREE_NULL);
}

EXPORT void *calloc(size_t n, size_t size)
{
	size_t total;
	void *p;

	count(F_CALLOC);
	if (__builtin_mul_overflow(n, size, &total)) {
		errno = ENOMEM;
		return NULL;
	}
	p = bump(total, 16);
	if (p)
		memset(p, 0, total); /* fresh pages are zero already; be explicit */
	return p;
}

EXPORT void *realloc(void *old, size_t size)
{
	void *p;

	count(F_REALLOC);
	if (!old)
		return bump(size, 16);
	if (size == 0)
		return NULL; /* glibc frees and returns NULL; we never reuse memory */
	p = bump(size, 16);
	if (p)
		memcpy(p, old, block_size(old) < size ? block_size(old) : size);
	return p;
}

static int bad_alignment(size_t align)
{
	return align == 0 || (align & (align - 1)) != 0;
}

EXPORT void *memalign(size_t align, size_t size)
{
	count(F_MEMALIGN);
	if (bad_alignment(align)) {
		errno = EINVAL;
		return NULL;
	}
	return bump(size, align < 16 ? 16 : align);
}

EXPORT int posix_memalign(void **out, size_t align, size_t size)
{
	void *p;

	count(F_POSIX_MEMALIGN);
	if (bad_alignment(align) || align % sizeof(void *) != 0)
		return EINVAL;
	p = bump(size, align < 16 ? 16 : align);
	if (!p)
		return ENOMEM;
	*out = p;
	return 0;
}

EXPORT void *aligned_alloc(size_t align, size_t size)
{
	count(F_ALIGNED_ALLOC);
	if (bad_alignment(align)) {
		errno = EINVAL;
		return NULL;
	}
	return bump(size, align < 16 ? 16 : align);
}

EXPORT void *valloc(size_t size)
{
	count(F_VALLOC);
	return bump(size, 4096);
}

EXPORT void *pvalloc(size_t size)
{
	count(F_PVALLOC);
	return bump((size + 4095) & ~(size_t)4095, 4096);
}

EXPORT size_t malloc_usable_size(void *p)
{
	count(F_USABLE_SIZE);
	return p ? block_size(p) : 0;
}

/* ------------------------------------------------------------ the program */

static void sleep_ms(long ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

static void *volatile sink;
static _Atomic pid_t worker_tid[12];

static void *worker(void *arg)
{
	uintptr_t id = (uintptr_t)arg;
	char name[16];
	void *p;

	program_thread = 1;
	atomic_store(&worker_tid[id], (pid_t)syscall(SYS_gettid));
	snprintf(name, sizeof(name), "own-%u", (unsigned)id);
	pthread_setname_np(pthread_self(), name);
	for (int i = 0; i < 100; i++) {
		sink = p = malloc(32 + (size_t)i);
		sink = p = realloc(p, 64 + (size_t)i * 2);
		free(p);
		sink = p = calloc(4, 16);
		free(p);
	}
	if (posix_memalign(&p, 64, 100) == 0)
		free(p);
	sink = p = aligned_alloc(256, 512);
	free(p);
	sink = p = memalign(128, 100);
	free(p);
	sleep_ms(20);
	return (void *)id;
}

int main(void)
{
	enum { N = 6 };
	pthread_t t[N];
	unsigned long snap[F_COUNT][2];
	struct counters *c;
	struct timespec ts;
	int rc = 0;

	program_thread = 1;
	for (uintptr_t i = 0; i < N; i++)
		rc |= pthread_create(&t[i], NULL, worker, (void *)i);
	rc |= pthread_join(t[0], NULL);
	rc |= pthread_tryjoin_np(t[1], NULL) == EBUSY ? pthread_join(t[1], NULL) : 0;
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += 10;
	rc |= pthread_timedjoin_np(t[2], NULL, &ts);
	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_sec += 10;
	rc |= pthread_clockjoin_np(t[3], NULL, CLOCK_MONOTONIC, &ts);
	rc |= pthread_detach(t[4]);
	rc |= pthread_join(t[5], NULL);
	/* Until the detached thread has ended and its stack is back in the cache. */
	while (atomic_load(&worker_tid[4]) == 0 ||
	       syscall(SYS_tgkill, (long)getpid(), (long)atomic_load(&worker_tid[4]), 0L) == 0)
		sleep_ms(1);

	/* A second round, after the first threads' stacks went to the cache. */
	for (uintptr_t i = 0; i < N; i++)
		rc |= pthread_create(&t[i], NULL, worker, (void *)(i + N));
	for (int i = 0; i < N; i++)
		rc |= pthread_join(t[i], NULL);

	c = get_counters();
	for (int i = 0; i < F_COUNT; i++)
		for (int j = 0; j < 2; j++)
			snap[i][j] = atomic_load(&c->n[i][j]);
	printf("threads: %s\n", rc ? "error" : "ok");
	for (int i = 0; i < F_COUNT; i++)
		printf("%s: program=%lu foreign=%lu\n", fn_names[i], snap[i][0], snap[i][1]);
	return 0;
}
