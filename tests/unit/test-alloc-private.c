/*
 * The private allocator initialises lazily (agent/alloc_private.c, with the
 * archive's constructor removed by meson.build): nothing has initialised it
 * when main starts; the fork handlers leave an allocator that was never
 * initialised alone, in the parent and in the child; a fork while another
 * thread makes the first allocation gives a child whose allocator works; the
 * first allocation initialises it. The fork gate: a fork waits for a thread
 * inside the allocator and keeps others out until it is made; forks in the
 * middle of allocations, and of threads ending, leave children whose threads
 * allocate.
 *
 * Links agent/alloc.c, agent/alloc_private.c and the archive libweft.so links
 * (libjemalloc_lazy.a), not the unit tests' shim.
 */
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "agent/alloc.h"
#include "tests/unit/harness.h"

/* jemalloc's state: 0 once initialised (malloc_init_initialized), 3 before. */
extern int je_malloc_init_state;

static bool uninitialised(void)
{
	return je_malloc_init_state != 0 &&
	       !__atomic_load_n(&weft_allocator.ready, __ATOMIC_ACQUIRE);
}

/* A fork with the agent's handlers around it, as agent/agent.c runs them. */
static pid_t fork_with_handlers(void)
{
	pid_t pid;

	weft_alloc_fork_prepare();
	pid = fork();
	if (pid == 0)
		weft_alloc_fork_child();
	else
		weft_alloc_fork_parent();
	return pid;
}

/* After a fork: the child exits at once; the parent reaps it and counts it in *n. */
static void child_exits(pid_t pid, unsigned long *n)
{
	if (pid == 0)
		_exit(0);
	if (pid > 0 && waitpid(pid, NULL, 0) == pid)
		__atomic_add_fetch(n, 1, __ATOMIC_RELAXED);
}

static int wait_status(pid_t pid)
{
	int status;

	if (waitpid(pid, &status, 0) != pid)
		return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static void test_fork_uninitialised(void)
{
	pid_t pid = fork_with_handlers();

	if (pid == 0)
		_exit(uninitialised() ? 0 : 1);
	assert_true(pid > 0);
	expect_int(wait_status(pid), 0);
	expect_true(uninitialised());
}

/* Larger than the boot arena takes (alloc.h): jemalloc's own first allocation. */
#define BIG (WEFT_BOOT_MAX + 1)

/*
 * A thread whose fork is being prepared while the allocator is not yet
 * initialised holds the init lock until the fork is made: a signal handler
 * there that allocates gets nothing, rather than waiting for its own lock;
 * after the fork the allocator initialises. In a child, where it is still
 * uninitialised.
 */
static void test_forker_uninitialised(void)
{
	pid_t pid = fork();

	if (pid == 0) {
		void *p;
		bool nothing, then;

		alarm(10);
		weft_alloc_fork_prepare();
		p = weft_alloc(BIG);
		nothing = p == NULL && uninitialised();
		weft_alloc_fork_parent();
		p = weft_alloc(BIG);
		then = p != NULL;
		weft_free(p);
		_exit(nothing && then ? 0 : 1);
	}
	assert_true(pid > 0);
	expect_int(wait_status(pid), 0);
}

static void *first_alloc(void *arg)
{
	weft_free(weft_alloc(BIG));
	return NULL;
}

/*
 * One trial, in a child of its own (the allocator must be uninitialised): a
 * thread makes the first allocation while this one forks; the grandchild
 * must be able to allocate and free, within 10 s.
 */
static int race_trial(void)
{
	pthread_t t;
	pid_t pid;
	int rc;

	if (pthread_create(&t, NULL, first_alloc, NULL) != 0)
		return 2;
	pid = fork_with_handlers();
	if (pid == 0) {
		void *p;

		alarm(10);
		p = weft_alloc(BIG);
		if (!p)
			_exit(3);
		memset(p, 1, BIG);
		weft_free(p);
		_exit(0);
	}
	rc = pid > 0 ? wait_status(pid) : 4;
	pthread_join(t, NULL);
	return rc ? rc : je_malloc_init_state == 0 ? 0 : 5;
}

static void test_fork_during_first_alloc(void)
{
	for (int i = 0; i < 40; i++) {
		pid_t pid = fork();

		if (pid == 0)
			_exit(race_trial());
		assert_true(pid > 0);
		expect_int(wait_status(pid), 0);
	}
}

/*
 * Small blocks come from the boot arena, and jemalloc stays uninitialised:
 * aligned as asked, zeroed, their size kept for realloc, free a no-op.
 */
static void test_boot_arena(void)
{
	char *p = weft_strdup("first"), *q, *z;
	void *line = weft_alloc_cacheline(100);

	assert_true(p != NULL && line != NULL);
	expect_str(p, "first");
	expect_true(weft_boot_owns(p) && weft_boot_owns(line));
	expect_int((int)((uintptr_t)line % 64), 0);
	z = weft_zalloc(1000);
	assert_true(z != NULL);
	for (int i = 0; i < 1000; i++)
		if (z[i] != 0)
			expect_true(!"a zeroed block");
	q = weft_realloc(p, 3000); /* copied out (to the arena again) */
	assert_true(q != NULL && q != p);
	expect_str(q, "first");
	weft_free(p); /* ignored */
	weft_free(q);
	weft_free(z);
	weft_free(line);
	expect_true(uninitialised());
	/* Past WEFT_BOOT_MAX: jemalloc. */
	p = weft_alloc(BIG);
	assert_true(p != NULL);
	expect_true(!weft_boot_owns(p));
	expect_true(!uninitialised());
	weft_free(p);
}

/* Used up, the arena gives nothing more: every block is jemalloc's. */
static void test_boot_used_up(void)
{
	void *p;
	int taken = 0;

	while ((p = weft_alloc(WEFT_BOOT_MAX)) != NULL && weft_boot_owns(p))
		taken++;
	expect_true(taken > 0 && (size_t)taken <= WEFT_BOOT_SIZE / WEFT_BOOT_MAX);
	assert_true(p != NULL);
	expect_true(!weft_boot_owns(p));
	weft_free(p);
}

/* ------------------------------------------------------------ the fork gate */

static int flag_get(const int *f)
{
	return __atomic_load_n(f, __ATOMIC_ACQUIRE);
}

static void flag_set(int *f)
{
	__atomic_store_n(f, 1, __ATOMIC_RELEASE);
}

/* Waits up to 5 s for the flag; says whether it was set. */
static bool flag_wait(const int *f)
{
	for (int i = 0; i < 5000 && !flag_get(f); i++)
		usleep(1000);
	return flag_get(f);
}

static int holder_in, holder_out, prepared, go_parent, allocated;

static void *hold_inside(void *arg)
{
	weft_alloc_enter();
	flag_set(&holder_in);
	while (!flag_get(&holder_out))
		usleep(1000);
	weft_alloc_leave();
	return arg;
}

/* A fork's handlers, without the fork: the parent's when told. */
static void *prepare_fork(void *arg)
{
	weft_alloc_fork_prepare();
	flag_set(&prepared);
	while (!flag_get(&go_parent))
		usleep(1000);
	weft_alloc_fork_parent();
	return arg;
}

static void *alloc_once(void *arg)
{
	weft_free(weft_alloc(BIG));
	flag_set(&allocated);
	return arg;
}

/*
 * The gate: a fork being prepared waits while another thread is inside the
 * allocator, and once it is prepared a thread that comes to allocate waits
 * until the fork is made (the parent's handler).
 */
static void test_gate(void)
{
	pthread_t holder, forker, late;

	weft_free(weft_alloc(BIG)); /* initialised: the gate is used */
	assert_int(pthread_create(&holder, NULL, hold_inside, NULL), 0);
	assert_true(flag_wait(&holder_in));
	assert_int(pthread_create(&forker, NULL, prepare_fork, NULL), 0);
	usleep(50000);
	expect_true(!flag_get(&prepared));
	flag_set(&holder_out);
	expect_true(flag_wait(&prepared));
	pthread_join(holder, NULL);

	assert_int(pthread_create(&late, NULL, alloc_once, NULL), 0);
	usleep(50000);
	expect_true(!flag_get(&allocated));
	flag_set(&go_parent);
	expect_true(flag_wait(&allocated));
	pthread_join(late, NULL);
	pthread_join(forker, NULL);
	expect_int((int)__atomic_load_n(&weft_allocator.inside, __ATOMIC_SEQ_CST), 0);
	expect_int((int)__atomic_load_n(&weft_allocator.gate, __ATOMIC_SEQ_CST), 0);
}

/* The thread that closed the gate allocates all the same (a signal handler during its fork). */
static void test_gate_forker_passes(void)
{
	void *p;

	alarm(10);
	weft_alloc_fork_prepare();
	p = weft_alloc(BIG);
	expect_true(p != NULL);
	weft_free(p);
	weft_alloc_fork_parent();
	alarm(0);
	expect_int((int)__atomic_load_n(&weft_allocator.inside, __ATOMIC_SEQ_CST), 0);
}

static int storm_stop;

/*
 * Allocates, touches and frees blocks of a few sizes, small and large (few,
 * so that a child needs the locks its parent's threads were taking).
 */
static void churn_some(unsigned *seed, void **held, int slots, int rounds)
{
	static const size_t sizes[] = { 48, 100, 3000, 20000, 70000 };

	for (int r = 0; r < rounds; r++) {
		int i = rand_r(seed) % slots;
		size_t n = sizes[rand_r(seed) % 5];

		weft_free(held[i]);
		held[i] = weft_alloc(n);
		if (held[i])
			memset(held[i], i, n < 256 ? n : 256);
	}
}

/* A thread that allocates and ends: jemalloc's data for it is made, then destroyed at its exit. */
static void *short_life(void *arg)
{
	unsigned seed = (unsigned)(uintptr_t)arg;
	void *held[4] = { 0 };

	churn_some(&seed, held, 4, 8);
	for (int i = 0; i < 4; i++)
		weft_free(held[i]);
	return NULL;
}

static void *churn(void *arg)
{
	unsigned seed = (unsigned)(uintptr_t)arg;
	void *held[16] = { 0 };

	while (!flag_get(&storm_stop)) {
		pthread_t t;

		churn_some(&seed, held, 16, 256);
		if (pthread_create(&t, NULL, short_life, (void *)(uintptr_t)rand_r(&seed)) == 0)
			pthread_join(t, NULL);
	}
	for (int i = 0; i < 16; i++)
		weft_free(held[i]);
	return NULL;
}

/* A forked child: allocates here and in four new threads, within 10 s. */
static void storm_child(unsigned seed)
{
	pthread_t t[4];
	void *held[8] = { 0 };

	alarm(10);
	churn_some(&seed, held, 8, 64);
	for (int i = 0; i < 4; i++)
		if (pthread_create(&t[i], NULL, short_life, (void *)(uintptr_t)(seed + i)) != 0)
			_exit(2);
	for (int i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	for (int i = 0; i < 8; i++)
		weft_free(held[i]);
	_exit(__atomic_load_n(&weft_allocator.inside, __ATOMIC_SEQ_CST) == 0 ? 0 : 3);
}

/*
 * Forks while three threads allocate, free and start threads that allocate
 * and end (whose exit runs jemalloc's destructor, the one part of it that runs
 * outside the gate): every child can allocate from old and new threads.
 */
static void test_fork_storm(void)
{
	pthread_t t[3];
	int failed = 0;

	for (int i = 0; i < 3; i++)
		assert_int(pthread_create(&t[i], NULL, churn, (void *)(uintptr_t)(i + 1)), 0);
	for (int i = 0; i < 150; i++) {
		pid_t pid = fork_with_handlers();

		if (pid == 0)
			storm_child((unsigned)i);
		assert_true(pid > 0);
		if (wait_status(pid) != 0)
			failed++;
	}
	flag_set(&storm_stop);
	for (int i = 0; i < 3; i++)
		pthread_join(t[i], NULL);
	expect_int(failed, 0);
	expect_int((int)__atomic_load_n(&weft_allocator.inside, __ATOMIC_SEQ_CST), 0);
}

/* ------------------------------------------------------------ signal handlers and the gate */

static int sig_stop;
static pthread_t sig_worker;
static unsigned long sig_allocs, sig_handled, sig_refused;

static void *alloc_loop(void *arg)
{
	while (!flag_get(&sig_stop)) {
		weft_free(weft_alloc(BIG));
		__atomic_add_fetch(&sig_allocs, 1, __ATOMIC_RELAXED);
	}
	return arg;
}

/* Sends the worker `n` signals, 100 us apart; false when it stopped allocating (stuck). */
static bool signal_worker(int n)
{
	unsigned long before = __atomic_load_n(&sig_allocs, __ATOMIC_RELAXED);

	for (int i = 0; i < n; i++) {
		pthread_kill(sig_worker, SIGUSR1);
		usleep(100);
	}
	for (int i = 0; i < 2000 && __atomic_load_n(&sig_allocs, __ATOMIC_RELAXED) == before; i++)
		usleep(1000);
	return __atomic_load_n(&sig_allocs, __ATOMIC_RELAXED) != before;
}

static void install(void (*fn)(int))
{
	struct sigaction sa = { .sa_handler = fn, .sa_flags = SA_RESTART };

	sigemptyset(&sa.sa_mask);
	sigaction(SIGUSR1, &sa, NULL);
}

/*
 * A handler that allocates. Refused only if it interrupted a call (its entry
 * or exit); since signals are held off around each call (agent/sighold.h),
 * none does: it comes before the call or after it. Never stuck.
 */
static void handler_allocates(int sig)
{
	void *p = weft_alloc(BIG);

	(void)sig;
	if (p)
		__atomic_add_fetch(&sig_handled, 1, __ATOMIC_RELAXED);
	else
		__atomic_add_fetch(&sig_refused, 1, __ATOMIC_RELAXED);
	weft_free(p);
}

static void *fork_loop(void *arg)
{
	unsigned long forks = 0;

	while (!flag_get(&sig_stop))
		child_exits(fork_with_handlers(), &forks);
	return arg;
}

/*
 * A handler that allocates on a thread that allocates, while another thread
 * forks. Signals are held off for the whole of each call (jemalloc, which is
 * not reentrant, the call's entry and exit, its wait at the gate, where the
 * fork may be waiting for its thread): every handler comes between calls and
 * gets its block, none is refused, and nothing is stuck.
 */
static void test_handler_allocates_during_forks(void)
{
	pthread_t forker;
	bool moving = true;

	install(handler_allocates);
	sig_stop = 0;
	assert_int(pthread_create(&sig_worker, NULL, alloc_loop, NULL), 0);
	assert_int(pthread_create(&forker, NULL, fork_loop, NULL), 0);
	for (int round = 0; round < 10 && moving; round++)
		moving = signal_worker(500);
	expect_true(moving);
	flag_set(&sig_stop);
	pthread_join(sig_worker, NULL);
	pthread_join(forker, NULL);
	expect_true(__atomic_load_n(&sig_handled, __ATOMIC_RELAXED) > 0);
	expect_int((int)__atomic_load_n(&sig_refused, __ATOMIC_RELAXED), 0);
	expect_int((int)__atomic_load_n(&weft_allocator.inside, __ATOMIC_SEQ_CST), 0);
}

static unsigned long handler_forks;

/* A handler that forks (the child exits at once): wherever it interrupted the allocator. */
static void handler_forks_now(int sig)
{
	int saved = errno;

	(void)sig;
	child_exits(fork_with_handlers(), &handler_forks);
	errno = saved;
}

/*
 * A handler that forks, on a thread that allocates: a fork from inside the
 * allocator (or its entry or exit) waits for nobody, and the parent goes on.
 */
static void test_handler_forks(void)
{
	bool moving = true;

	install(handler_forks_now);
	sig_stop = 0;
	assert_int(pthread_create(&sig_worker, NULL, alloc_loop, NULL), 0);
	for (int round = 0; round < 4 && moving; round++)
		moving = signal_worker(100);
	expect_true(moving);
	flag_set(&sig_stop);
	pthread_join(sig_worker, NULL);
	expect_true(__atomic_load_n(&handler_forks, __ATOMIC_RELAXED) > 0);
	expect_int((int)__atomic_load_n(&weft_allocator.inside, __ATOMIC_SEQ_CST), 0);
	expect_int((int)__atomic_load_n(&weft_allocator.gate, __ATOMIC_SEQ_CST), 0);
	signal(SIGUSR1, SIG_DFL);
}

/* ------------------------------------------------------------ jemalloc's list of threads */

/*
 * jemalloc's mutexes are taken with pthread_mutex_trylock first, which binds
 * to this definition (as in libweft.so it binds to weft's hook). Armed, the
 * parked thread's next successful lock parks it, holding that lock: the lock
 * of jemalloc's list of threads, taken by its thread-exit destructor (which
 * runs outside the gate).
 */
static pthread_t park_thread;
static int park_armed, parked, unpark;

int pthread_mutex_trylock(pthread_mutex_t *m)
{
	static int (*real)(pthread_mutex_t * m);
	int rc;

	if (!real)
		*(void **)&real = dlsym(RTLD_NEXT, "pthread_mutex_trylock");
	rc = real(m);
	if (rc == 0 && flag_get(&park_armed) && pthread_equal(pthread_self(), park_thread)) {
		__atomic_store_n(&park_armed, 0, __ATOMIC_RELAXED);
		flag_set(&parked);
		while (!flag_get(&unpark))
			usleep(1000);
	}
	return rc;
}

static void *parker(void *arg)
{
	weft_free(weft_alloc(BIG)); /* jemalloc's data for this thread, in its list */
	flag_set(&park_armed);      /* the next lock it takes: at its exit, the list's */
	return arg;
}

/*
 * A fork while a thread's exit holds the lock of jemalloc's list of threads:
 * the child resets the list and its lock, so a new thread there can allocate.
 */
static void test_fork_during_thread_exit(void)
{
	pid_t pid;

	weft_free(weft_alloc(BIG));
	assert_int(pthread_create(&park_thread, NULL, parker, NULL), 0);
	assert_true(flag_wait(&parked));
	pid = fork_with_handlers();
	if (pid == 0) {
		pthread_t t;

		alarm(10);
		if (pthread_create(&t, NULL, short_life, (void *)1) != 0)
			_exit(2);
		pthread_join(t, NULL);
		_exit(0);
	}
	assert_true(pid > 0);
	expect_int(wait_status(pid), 0);
	flag_set(&unpark);
	pthread_join(park_thread, NULL);
}

/* ------------------------------------------------------------ the fork wakes up */

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int wake_in, wake_prepared;
static uint64_t wake_left_ns, wake_prepared_ns;

static void *hold_then_leave(void *arg)
{
	weft_alloc_enter();
	flag_set(&wake_in);
	usleep(20000); /* the fork is asleep by now */
	wake_left_ns = mono_ns();
	weft_alloc_leave();
	return arg;
}

static void *prepare_timed(void *arg)
{
	weft_alloc_fork_prepare();
	wake_prepared_ns = mono_ns();
	flag_set(&wake_prepared);
	weft_alloc_fork_parent();
	return arg;
}

/*
 * A fork that waits for a thread inside the allocator goes on as soon as the
 * thread leaves: the leaving thread wakes it (weft_alloc_gate_left), rather
 * than the fork finding out at the end of its nap (100 ms). The fastest of
 * five, so that one slow scheduling of the machine does not decide it.
 */
static void test_fork_woken_when_left(void)
{
	uint64_t best = UINT64_MAX;

	for (int round = 0; round < 5; round++) {
		pthread_t holder, forker;

		wake_in = wake_prepared = 0;
		assert_int(pthread_create(&holder, NULL, hold_then_leave, NULL), 0);
		assert_true(flag_wait(&wake_in));
		assert_int(pthread_create(&forker, NULL, prepare_timed, NULL), 0);
		pthread_join(holder, NULL);
		pthread_join(forker, NULL);
		expect_true(flag_get(&wake_prepared));
		if (wake_prepared_ns - wake_left_ns < best)
			best = wake_prepared_ns - wake_left_ns;
	}
	expect_true(best < 10 * 1000 * 1000);
}

/* ------------------------------------------------------------ forks from handlers, with glibc's
 * fork handlers */

static unsigned long plain_forks;

static void *plain_fork_loop(void *arg)
{
	while (!flag_get(&sig_stop))
		child_exits(fork(), &plain_forks);
	return arg;
}

static void handler_plain_fork(int sig)
{
	int saved = errno;

	(void)sig;
	child_exits(fork(), &handler_forks);
	errno = saved;
}

/*
 * The handlers registered as the agent has them (pthread_atfork: glibc runs
 * two threads' prepare handlers at once). A handler forks on a thread that
 * allocates while another thread forks: if the handler's fork waited for
 * the other's (its lock), and the other for the handler's thread (inside the
 * allocator), neither would go on. Last: the handlers stay registered.
 */
static void test_handler_forks_while_another_forks(void)
{
	pthread_t forker;
	bool moving = true;

	assert_int(pthread_atfork(weft_alloc_fork_prepare, weft_alloc_fork_parent,
				  weft_alloc_fork_child),
		   0);
	install(handler_plain_fork);
	sig_stop = 0;
	handler_forks = 0;
	assert_int(pthread_create(&sig_worker, NULL, alloc_loop, NULL), 0);
	assert_int(pthread_create(&forker, NULL, plain_fork_loop, NULL), 0);
	for (int round = 0; round < 20 && moving; round++)
		moving = signal_worker(50);
	expect_true(moving);
	flag_set(&sig_stop);
	if (moving) {
		pthread_join(sig_worker, NULL);
		pthread_join(forker, NULL);
	}
	expect_true(__atomic_load_n(&handler_forks, __ATOMIC_RELAXED) > 0);
	expect_true(__atomic_load_n(&plain_forks, __ATOMIC_RELAXED) > 0);
	signal(SIGUSR1, SIG_DFL);
}

int main(void)
{
	/* Nothing ran jemalloc's constructor: the archive's is removed. */
	expect_true(uninitialised());
	test_fork_uninitialised();
	test_forker_uninitialised();
	test_fork_during_first_alloc();
	expect_true(uninitialised());
	test_boot_arena();
	test_boot_used_up();
	test_gate();
	test_gate_forker_passes();
	test_fork_storm();
	test_handler_allocates_during_forks();
	test_handler_forks();
	test_fork_during_thread_exit();
	test_fork_woken_when_left();
	test_handler_forks_while_another_forks(); /* last: registers the fork handlers */
	return harness_done();
}
