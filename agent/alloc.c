/*
 * The private allocator's per-thread mark (see alloc.h). Defined in the core,
 * so that libweft.so and the unit tests (whose allocator is a shim) share it.
 */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "agent/alloc.h"
#include "agent/large.h"

__thread unsigned weft_alloc_busy __attribute__((tls_model("initial-exec")));
__thread uint64_t weft_alloc_sigmask __attribute__((tls_model("initial-exec")));

_Alignas(64) struct weft_allocator weft_allocator;

/*
 * A thread that found the fork gate closed as it came in (alloc.h): it steps
 * back out, sleeps until the fork has been made (the gate at 2 tells the
 * forking thread to wake it), and comes in again. errno is the program's.
 * The thread that closed it passes (a signal handler that allocates while
 * its fork is prepared): only it could open the gate, and while it runs
 * here the fork is not being made.
 */
void weft_alloc_gate_wait(void)
{
	int saved = errno;

	if (__atomic_load_n(&weft_allocator.forker, __ATOMIC_RELAXED) == (uintptr_t)pthread_self())
		return;
	do {
		__atomic_sub_fetch(&weft_allocator.inside, 1, __ATOMIC_SEQ_CST);
		weft_alloc_gate_left();
		for (unsigned g;
		     (g = __atomic_load_n(&weft_allocator.gate, __ATOMIC_ACQUIRE)) != 0;) {
			if (g == 1 &&
			    !__atomic_compare_exchange_n(&weft_allocator.gate, &g, 2, false,
							 __ATOMIC_RELAXED, __ATOMIC_RELAXED))
				continue;
			syscall(SYS_futex, &weft_allocator.gate, FUTEX_WAIT_PRIVATE, 2, NULL, NULL,
				0);
		}
		__atomic_add_fetch(&weft_allocator.inside, 1, __ATOMIC_SEQ_CST);
	} while (__atomic_load_n(&weft_allocator.gate, __ATOMIC_SEQ_CST) != 0);
	errno = saved;
}

/*
 * A thread left the allocator while the gate was closed: the forking thread,
 * which may sleep on `left` until the count falls to nothing, is woken.
 */
void weft_alloc_gate_left(void)
{
	int saved = errno;

	__atomic_add_fetch(&weft_allocator.left, 1, __ATOMIC_SEQ_CST);
	syscall(SYS_futex, &weft_allocator.left, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
	errno = saved;
}

void weft_alloc_gate_open(void)
{
	if (__atomic_exchange_n(&weft_allocator.gate, 0, __ATOMIC_RELEASE) == 2) {
		int saved = errno;

		syscall(SYS_futex, &weft_allocator.gate, FUTEX_WAKE_PRIVATE, INT_MAX, NULL, NULL,
			0);
		errno = saved;
	}
}

_Alignas(64) char weft_boot_arena[WEFT_BOOT_SIZE] WEFT_LARGE;

/* The unit tests' allocator takes nothing from the arena (see alloc.h). */
static void *boot_none(size_t n, size_t align)
{
	(void)n;
	(void)align;
	return NULL;
}

static void no_fork_handler(void)
{
}

/* The unit tests' allocator (the C library's) needs no initialising. */
static bool ready_at_once(void)
{
	__atomic_store_n(&weft_allocator.ready, 1, __ATOMIC_RELEASE);
	return true;
}

/* Overridden in libweft.so by agent/alloc_private.c; the unit tests' shim has none. */
__attribute__((weak, alias("no_fork_handler"))) void weft_alloc_fork_prepare(void);
__attribute__((weak, alias("no_fork_handler"))) void weft_alloc_fork_parent(void);
__attribute__((weak, alias("no_fork_handler"))) void weft_alloc_fork_child(void);
__attribute__((weak, alias("ready_at_once"))) bool weft_alloc_first(void);
__attribute__((weak, alias("boot_none"))) void *weft_boot_take(size_t n, size_t align);
