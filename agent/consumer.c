#include <errno.h>
#include <linux/futex.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "agent/atomic.h"
#include "agent/consumer.h"
#include "agent/fd.h"

_Atomic uint32_t weft_consumer_word;
_Atomic int weft_consumer_wake_fd = -1;

static void nothing(void)
{
}

/* Overridden by the exporter's strong definition in libweft.so. */
__attribute__((weak)) const struct weft_consumer weft_consumer = {
	.start = nothing,
	.shutdown = nothing,
	.before_fork = nothing,
	.after_fork_child = nothing,
	.step_aside = nothing,
};

void weft_consumer_wake(void)
{
	int h;

	weft_fetch_add_relaxed(&weft_consumer_word, 1);
	syscall(SYS_futex, &weft_consumer_word, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
	/*
	 * A consumer that sleeps in poll(2) instead (it also waits for a
	 * client): the eventfd it polls. The write is a raw system call, like
	 * the futex's: async-signal-safe, and no hook sees it.
	 */
	h = weft_load_acquire(&weft_consumer_wake_fd);
	if (h >= 0) {
		int err = errno, fd = weft_fd_use(h);
		uint64_t one = 1;

		if (fd >= 0) {
			syscall(SYS_write, fd, &one, sizeof(one));
			weft_fd_unuse(h);
		}
		errno = err;
	}
}

void weft_consumer_wait(uint32_t seen, uint64_t timeout_ns)
{
	struct timespec ts = { .tv_sec = (time_t)(timeout_ns / 1000000000u),
			       .tv_nsec = (long)(timeout_ns % 1000000000u) };

	/* A timeout past any sensible one is no timeout (and cannot overflow tv_sec). */
	syscall(SYS_futex, &weft_consumer_word, FUTEX_WAIT_PRIVATE, seen,
		timeout_ns >= UINT64_C(1) << 62 ? NULL : &ts, NULL, 0);
}
