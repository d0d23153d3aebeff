/*
 * The private allocator initialises lazily (agent/alloc_private.c, with the
 * archive's constructor removed by meson.build): nothing has initialised it
 * when main starts; the fork handlers leave an allocator that was never
 * initialised alone, in the parent and in the child; a fork while another
 * thread makes the first allocation gives a child whose allocator works; the
 * first allocation initialises it.
 *
 * Links agent/alloc.c, agent/alloc_private.c and the archive libweft.so links
 * (libjemalloc_lazy.a), not the unit tests' shim.
 */
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agent/alloc.h"
#include "tests/unit/harness.h"

/* jemalloc's state: 0 once initialised (malloc_init_initialized), 3 before. */
extern int je_malloc_init_state;

static bool uninitialised(void)
{
	return je_malloc_init_state != 0 && !__atomic_load_n(&weft_alloc_ready, __ATOMIC_ACQUIRE);
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

int main(void)
{
	/* Nothing ran jemalloc's constructor: the archive's is removed. */
	expect_true(uninitialised());
	test_fork_uninitialised();
	test_fork_during_first_alloc();
	expect_true(uninitialised());
	test_boot_arena();
	test_boot_used_up();
	return harness_done();
}
