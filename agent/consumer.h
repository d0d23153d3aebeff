/*
 * What the agent needs from whoever consumes its events (the exporter).
 *
 * The agent records; a consumer drains the rings on its own thread. The
 * dependency points one way: the agent declares this interface and the
 * wake-up word, the exporter implements the interface. libweft.so links the
 * exporter's definition of `weft_consumer`; a program that links the agent
 * alone (the unit and stress tests) gets the agent's weak default, which does
 * nothing, so the agent builds and runs without any exporter.
 */
#ifndef WEFT_AGENT_CONSUMER_H
#define WEFT_AGENT_CONSUMER_H

#include <stdbool.h>

#include <stdint.h>

struct weft_consumer {
	/*
	 * The program is about to have a second thread: start the consumer's
	 * thread if it has none. Called with the guard set; idempotent.
	 */
	void (*start)(void);
	/* Final drain and export at process exit, within the configured budget. */
	void (*shutdown)(void);
	/* In the parent, before a fork is made (the guard set). */
	void (*before_fork)(void);
	/* In a forked child, with only the forking thread left. */
	void (*after_fork_child)(void);
	/* Whether the consumer's thread was never started (since the fork, in a forked child). */
	bool (*idle)(void);
	/*
	 * Called by a program thread that is ending as the process's last one
	 * (its main thread gone): returns once the consumer's thread has ended,
	 * so that the caller stays the last thread and glibc's exit(0) runs on
	 * it, as without weft — with its descriptor table (the consumer's may
	 * be a table of its own, agent/fd.h), its thread-local state, and its
	 * atexit handlers' output reaching the program's stdout. The consumer's
	 * final export then runs in that exit.
	 */
	void (*step_aside)(void);
};

extern const struct weft_consumer weft_consumer;

/*
 * The word the consumer sleeps on (a futex). Recording threads bump it and
 * wake the consumer when a ring reaches its wake mark, when many threads have
 * exited, or at exit; the consumer waits for it to change.
 */
extern _Atomic uint32_t weft_consumer_word;

/*
 * An eventfd's handle (agent/fd.h) that weft_consumer_wake also writes, or
 * -1: for a consumer that sleeps in poll(2) on descriptors of its own and so
 * cannot wait on the word. The consumer reads the word before it polls, as
 * before a futex wait; a wake after that read leaves the eventfd readable,
 * so no wake is lost between the read and the sleep.
 */
extern _Atomic int weft_consumer_wake_fd;

/* Asks the consumer for an early cycle: async-signal-safe, never blocks. */
void weft_consumer_wake(void);

/*
 * Consumer side: sleeps until the word differs from `seen`, a wake, or
 * `timeout_ns` (UINT64_MAX: no timeout) has passed.
 */
void weft_consumer_wait(uint32_t seen, uint64_t timeout_ns);

/*
 * Exited-but-uncollected threads at whose every multiple an exiting thread
 * wakes the consumer: bounds what ended threads' states hold (each about 2.1
 * KiB) when threads come and go faster than the consumer's schedule.
 */
#define WEFT_CONSUMER_PENDING_EXITS_WAKE 64

#endif
