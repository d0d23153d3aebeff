/*
 * Keeps the private allocator private: it must not read the program's
 * allocator configuration.
 *
 * Debian's jemalloc archive reads MALLOC_CONF (through secure_getenv) and the
 * /etc/malloc.conf symlink (through readlink) when it initialises (at weft's
 * first allocation, see weft_alloc_first below). A program that configures
 * *its* jemalloc with MALLOC_CONF=stats_print:true would get our allocator's
 * statistics too; abort_conf:true with an option our build lacks would abort
 * it. These two definitions live only in libweft.so and are local to it (the
 * version script exports neither), so they are what the archive's references
 * bind to, and nothing outside weft sees them.
 */
#include <dlfcn.h>
#include <linux/futex.h>
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "agent/alloc.h"

/*
 * The private allocator's own settings (jemalloc reads this symbol; the
 * archive's definition is weak).
 *
 * No thread cache (tcache:false). jemalloc gives every thread that allocates a
 * cache of its own, created on the thread's first allocation (a zeroed 32 KiB
 * block: recycled pages are zeroed with madvise(MADV_DONTNEED)) and flushed and
 * destroyed when the thread ends. The agent allocates on a program thread only
 * for that thread's ring, at its first event, so for a short-lived thread the
 * cache is pure cost: with eight threads creating threads that name
 * themselves, the madvise calls and their TLB shootdowns made the program
 * 5.5 times as expensive in CPU (tests/bench/bench-threads-concurrent). Without
 * it each allocation takes the arena's lock for a few dozen instructions.
 *
 * One arena: the agent allocates little, and more arenas measured no faster
 * here while holding more memory (each keeps its own freed pages). Freed pages
 * are returned to the kernel after 30 s rather than at once: purging means
 * madvise, whose TLB shootdowns interrupt every core running the program, and
 * the agent's memory is reused within that time.
 */
const char *malloc_conf = "narenas:1,tcache:false,dirty_decay_ms:30000,muzzy_decay_ms:0,"
			  "background_thread:false";

/*
 * jemalloc's own fork handlers are not registered (see pthread_atfork below).
 * Every pthread_atfork in libweft.so binds to the definition below, not to
 * libc's (whose own definition is a static stub in libc_nonshared.a that does
 * just what ours does for everyone else: __register_atfork with this object's
 * handle).
 */
void je_jemalloc_prefork(void);
int __register_atfork(void (*prepare)(void), void (*parent)(void), void (*child)(void),
		      void *dso_handle);
extern void *__dso_handle __attribute__((visibility("hidden")));
int pthread_atfork(void (*prepare)(void), void (*parent)(void), void (*child)(void));

/*
 * Two of the archive's internal names (jemalloc 5.3, checked by meson.build):
 * the calling thread's allocator data (thread-local) and the part of
 * jemalloc's child handler that forgets the parent's other threads.
 */
extern __thread char je_tsd_tls[] __attribute__((tls_model("initial-exec")));
void je_tsd_postfork_child(void *tsd);

char *secure_getenv(const char *name);
ssize_t readlink(const char *restrict path, char *restrict buf, size_t len);
double exp(double x);
double log(double x);
double round(double x);

char *secure_getenv(const char *name)
{
	if (strcmp(name, "MALLOC_CONF") == 0 || getauxval(AT_SECURE))
		return NULL;
	return getenv(name);
}

ssize_t readlink(const char *restrict path, char *restrict buf, size_t len)
{
	if (strcmp(path, "/etc/malloc.conf") == 0) {
		errno = ENOENT;
		return -1;
	}
	return syscall(SYS_readlink, path, buf, len);
}

/*
 * jemalloc's heap profiler is the archive's only user of libm (exp, log and
 * round, for its sampling intervals and statistics). The profiler is off and cannot be turned on —
 * its configuration is the constant above, MALLOC_CONF and /etc/malloc.conf
 * are hidden from it — so these are never called; defining them here spares
 * every process the loading of libm.so.6 at start. Should one be called after
 * all, it answers from libm if the program has loaded it, else with NaN.
 */
static double libm_call(const char *name, double x)
{
	double (*fn)(double);

	*(void **)&fn = dlsym(RTLD_DEFAULT, name);
	return fn ? fn(x) : __builtin_nan("");
}

double exp(double x)
{
	return libm_call("exp", x);
}

double log(double x)
{
	return libm_call("log", x);
}

double round(double x)
{
	return libm_call("round", x);
}

/*
 * jemalloc's control interface (mallctl), left out. The archive's ctl.o holds
 * its name tree: 19.6 KiB of pointers in .data.rel.ro, which the loader
 * relocates, and so copies, in every process weft is loaded into (three or
 * four page faults at each start, disabled or not). Nothing calls mallctl here: the
 * allocator's settings are the constant above, and its statistics are never
 * printed. scripts/private-jemalloc.sh takes ctl.o out of the archive, and
 * these answer for the ten functions the rest of it calls (jemalloc 5.3's
 * ctl.h; the pointers are its tsd_t and tsdn_t): initialisation succeeds,
 * every name is unknown, the fork hooks and the lock assertion have no lock.
 */
bool je_ctl_boot(void);
int je_ctl_byname(void *tsd, const char *name, void *oldp, size_t *oldlenp, void *newp,
		  size_t newlen);
int je_ctl_nametomib(void *tsd, const char *name, size_t *mibp, size_t *miblenp);
int je_ctl_bymib(void *tsd, const size_t *mib, size_t miblen, void *oldp, size_t *oldlenp,
		 void *newp, size_t newlen);
int je_ctl_mibnametomib(void *tsd, size_t *mib, size_t miblen, const char *name, size_t *miblenp);
int je_ctl_bymibname(void *tsd, size_t *mib, size_t miblen, const char *name, size_t *miblenp,
		     void *oldp, size_t *oldlenp, void *newp, size_t newlen);
void je_ctl_prefork(void *tsdn);
void je_ctl_postfork_parent(void *tsdn);
void je_ctl_postfork_child(void *tsdn);
void je_ctl_mtx_assert_held(void *tsdn);

bool je_ctl_boot(void)
{
	return false;
}

int je_ctl_byname(void *tsd, const char *name, void *oldp, size_t *oldlenp, void *newp,
		  size_t newlen)
{
	return ENOENT;
}

int je_ctl_nametomib(void *tsd, const char *name, size_t *mibp, size_t *miblenp)
{
	return ENOENT;
}

int je_ctl_bymib(void *tsd, const size_t *mib, size_t miblen, void *oldp, size_t *oldlenp,
		 void *newp, size_t newlen)
{
	return ENOENT;
}

int je_ctl_mibnametomib(void *tsd, size_t *mib, size_t miblen, const char *name, size_t *miblenp)
{
	return ENOENT;
}

int je_ctl_bymibname(void *tsd, size_t *mib, size_t miblen, const char *name, size_t *miblenp,
		     void *oldp, size_t *oldlenp, void *newp, size_t newlen)
{
	return ENOENT;
}

void je_ctl_prefork(void *tsdn)
{
}

void je_ctl_postfork_parent(void *tsdn)
{
}

void je_ctl_postfork_child(void *tsdn)
{
}

void je_ctl_mtx_assert_held(void *tsdn)
{
}

/*
 * The same holds for libgcc's unwinder, which the heap profiler uses for its
 * stacks (prof_sys.o): _Unwind_Backtrace and _Unwind_GetIP are defined here,
 * hidden, so that they do not make libgcc_s.so.1 a dependency of libweft.so
 * (agent/unwind_link.c says why). Never called; should one be, it answers
 * from the unwinder the program has loaded, else with an empty stack.
 */
struct _Unwind_Context;
typedef int (*unwind_trace_fn)(struct _Unwind_Context *ctx, void *arg);
int _Unwind_Backtrace(unwind_trace_fn fn, void *arg);
uintptr_t _Unwind_GetIP(struct _Unwind_Context *ctx);

#define URC_END_OF_STACK 5

int _Unwind_Backtrace(unwind_trace_fn fn, void *arg)
{
	int (*real)(unwind_trace_fn fn, void *arg);

	*(void **)&real = dlsym(RTLD_DEFAULT, "_Unwind_Backtrace");
	return real ? real(fn, arg) : URC_END_OF_STACK;
}

uintptr_t _Unwind_GetIP(struct _Unwind_Context *ctx)
{
	uintptr_t (*real)(struct _Unwind_Context * ctx);

	*(void **)&real = dlsym(RTLD_DEFAULT, "_Unwind_GetIP");
	return real ? real(ctx) : 0;
}

/*
 * jemalloc registers fork handlers when it initialises. They take each of its
 * locks before every fork and release them (parent) or re-initialise them
 * (child) after it, so that a child can allocate: dozens of mutexes over a
 * dozen pages, a copied page each after the fork, about 37 page faults per
 * fork between the two processes (perf record -e page-faults on
 * tests/bench/bench-fork). They are not registered: the fork gate below does
 * their work.
 */
int pthread_atfork(void (*prepare)(void), void (*parent)(void), void (*child)(void))
{
	if (prepare == je_jemalloc_prefork)
		return 0;
	return __register_atfork(prepare, parent, child, __dso_handle);
}

/*
 * First initialisation, and fork.
 *
 * libweft.so links a copy of the archive without jemalloc's constructor
 * (meson.build), so the allocator initialises at weft's first allocation
 * (weft_mallocx calls weft_alloc_first while weft_allocator.ready is 0): in a
 * process where the agent is disabled, never. jemalloc's constructor was also
 * its protection against one hazard: a fork while another thread is half-way
 * through initialising leaves the child an allocator whose state and locks
 * are half made, and its first allocation deadlocks or crashes. Here the
 * first initialisation and the agent's fork handlers exclude each other with
 * weft_allocator.init_lock: prepare takes it (waiting out an initialisation in progress),
 * parent releases it and the child resets it.
 *
 * The lock is a spin lock that yields: taking a pthread mutex from here
 * would go through weft's own hook. It is held for one initialisation, once
 * per process, and around forks. weft_allocator.ready is written under it and
 * with release order, so a thread that reads it set (acquire) sees the
 * allocator's initialised state; in the fork handlers, which hold the lock,
 * a relaxed read is enough.
 *
 * The fork gate (alloc.h) then keeps every other thread out of the allocator
 * while the fork is made: the child inherits an allocator that nobody was
 * inside, every lock free and every structure whole, and neither process
 * writes jemalloc's pages around the fork. Everything jemalloc does runs
 * inside weft's calls but one thing: the destructor of a thread's allocator
 * data, at the thread's exit, which (with no thread cache, see malloc_conf)
 * only takes the lock of jemalloc's list of threads and takes the thread out
 * of it. That list and its lock are what the child resets
 * (je_tsd_postfork_child, the first step of jemalloc's own child handler):
 * it holds the parent's other threads, whose thread-local memory glibc
 * reuses in the child for new threads' stacks. The rest of jemalloc's child
 * handler re-initialises locks, which the gate left free, and counts of
 * threads per arena, which only guide the choice among arenas (there is
 * one).
 */
static void init_lock_take(void)
{
	while (__atomic_exchange_n(&weft_allocator.init_lock, 1, __ATOMIC_ACQUIRE))
		sched_yield();
}

static void init_lock_drop(void)
{
	__atomic_store_n(&weft_allocator.init_lock, 0, __ATOMIC_RELEASE);
}

/*
 * Initialises the allocator under the init lock, as a call into it (busy,
 * counted in). Nothing for a signal handler that interrupted a call or this
 * initialisation (busy), or the thread that is forking (it holds the lock
 * until the fork is made).
 */
bool weft_alloc_first(void)
{
	if (weft_alloc_busy ||
	    __atomic_load_n(&weft_allocator.forker, __ATOMIC_RELAXED) == (uintptr_t)pthread_self())
		return false;
	weft_alloc_busy_set();
	init_lock_take();
	if (!__atomic_load_n(&weft_allocator.ready, __ATOMIC_RELAXED)) {
		weft_alloc_count_in();
		dallocx(mallocx(1, 0), 0);
		weft_alloc_count_out();
		__atomic_store_n(&weft_allocator.ready, 1, __ATOMIC_RELEASE);
	}
	init_lock_drop();
	weft_alloc_busy_clear();
	return __atomic_load_n(&weft_allocator.ready, __ATOMIC_ACQUIRE) == 1;
}

/*
 * This thread's fork is from a signal handler that interrupted its own call
 * into the allocator (its entry, its wait at the gate, jemalloc, its exit, or
 * the initialisation): its prepare handler did nothing.
 */
static __thread bool forked_inside __attribute__((tls_model("initial-exec")));

/*
 * Takes the init lock (no thread initialises the allocator during the
 * fork), names this thread the forker, and once the allocator is
 * initialised closes the gate and waits until no other thread is inside,
 * asleep between looks: a thread that leaves while the gate is closed bumps
 * `left` and wakes it (alloc.h). The timeout only bounds a wake-up that
 * comes before the sleep, which the futex's value check already catches.
 *
 * A thread that forks from a signal handler that interrupted its own call
 * into the allocator must not wait, for the lock or for the others: it may
 * hold the lock, or be what another thread's fork waits for (glibc runs two
 * threads' prepare handlers at once). Nothing is taken or closed then, and
 * the child never calls the allocator again (ready 2): other threads may
 * have been inside at the fork. The child may still finish the call its
 * handler interrupted, as after any fork from a signal handler.
 */
void weft_alloc_fork_prepare(void)
{
	if (weft_alloc_busy) {
		forked_inside = true;
		return;
	}
	init_lock_take();
	__atomic_store_n(&weft_allocator.forker, (uintptr_t)pthread_self(), __ATOMIC_RELAXED);
	if (__atomic_load_n(&weft_allocator.ready, __ATOMIC_RELAXED) != 1)
		return;
	__atomic_store_n(&weft_allocator.gate, 1, __ATOMIC_SEQ_CST);
	for (;;) {
		unsigned seen = __atomic_load_n(&weft_allocator.left, __ATOMIC_SEQ_CST);
		struct timespec nap = { 0, 100 * 1000 * 1000 };
		int saved;

		if (__atomic_load_n(&weft_allocator.inside, __ATOMIC_SEQ_CST) == 0)
			break;
		saved = errno;
		syscall(SYS_futex, &weft_allocator.left, FUTEX_WAIT_PRIVATE, seen, &nap, NULL, 0);
		errno = saved;
	}
}

void weft_alloc_fork_parent(void)
{
	if (forked_inside) {
		forked_inside = false;
		return;
	}
	__atomic_store_n(&weft_allocator.forker, 0, __ATOMIC_RELAXED);
	weft_alloc_gate_open();
	init_lock_drop();
}

void weft_alloc_fork_child(void)
{
	/*
	 * The waiters stayed in the parent; this thread was inside only if it
	 * forked from a handler, and then another thread may have held the
	 * init lock or been inside (ready 2: nothing here is used again).
	 */
	__atomic_store_n(&weft_allocator.forker, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&weft_allocator.gate, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&weft_allocator.inside, 0, __ATOMIC_RELAXED);
	if (forked_inside) {
		forked_inside = false;
		__atomic_store_n(&weft_allocator.ready, 2, __ATOMIC_RELAXED);
	} else if (__atomic_load_n(&weft_allocator.ready, __ATOMIC_RELAXED) == 1 &&
		   weft_alloc_enter()) {
		je_tsd_postfork_child(je_tsd_tls);
		weft_alloc_leave();
	}
	init_lock_drop();
}

/* ------------------------------------------------------------ the boot arena (alloc.h) */

static size_t boot_used;

void *weft_boot_take(size_t n, size_t align)
{
	size_t old = __atomic_load_n(&boot_used, __ATOMIC_RELAXED), start, end;

	if (align < sizeof(size_t))
		align = sizeof(size_t);
	do {
		/* Room for the block's size just before it. */
		start = (old + sizeof(size_t) + align - 1) & ~(align - 1);
		end = start + ((n + 15) & ~(size_t)15);
		if (end > WEFT_BOOT_SIZE)
			return NULL;
	} while (!__atomic_compare_exchange_n(&boot_used, &old, end, 1, __ATOMIC_RELAXED,
					      __ATOMIC_RELAXED));
	((size_t *)(weft_boot_arena + start))[-1] = n;
	return weft_boot_arena + start;
}
