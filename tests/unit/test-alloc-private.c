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

static void *first_alloc(void *arg)
{
	weft_free(weft_alloc(48));
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
		p = weft_alloc(4096);
		if (!p)
			_exit(3);
		memset(p, 1, 4096);
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

static void test_first_alloc(void)
{
	char *p = weft_strdup("first");

	assert_true(p != NULL);
	expect_str(p, "first");
	expect_true(!uninitialised());
	weft_free(p);
}

int main(void)
{
	/* Nothing ran jemalloc's constructor: the archive's is removed. */
	expect_true(uninitialised());
	test_fork_uninitialised();
	test_fork_during_first_alloc();
	expect_true(uninitialised());
	test_first_alloc();
	return harness_done();
}
