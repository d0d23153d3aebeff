/*
 * The tools every part of the behaviour program shares: printing a call's
 * result and errno deterministically, clocks and deadlines, and "gated"
 * threads that block until released. Then the list of checks, one function
 * per part of the libc contract, each defined in the file of its family:
 *
 *     behaviour-join.c    create, join, detach, tryjoin, timedjoin, clockjoin
 *     behaviour-thread.c  return values and pthread_exit, names, attributes,
 *                         many threads, nested creation
 *     behaviour-cancel.c  cancellation of a thread blocked in a join
 *     behaviour-signal.c  signals delivered during joins, and to sigwait();
 *                         the jumps (longjmp, siglongjmp)
 *     behaviour-sync-lock.c  every mutex type, spin locks, read-write locks
 *     behaviour-sync-wait.c  condition variables, semaphores, barriers
 *     behaviour-io.c      pipes, eventfds, socketpairs: I/O, signals, descriptors
 *     behaviour-poll.c    poll, ppoll, select, pselect and the epoll waits
 *     behaviour-socket.c  TCP and UNIX sockets: connect, accept, transfers
 *
 * behaviour.c runs them in order (the "contract" mode) and holds the exit
 * paths. See there for what is printed and why it must be deterministic.
 */
#ifndef WEFT_TESTS_BEHAVIOUR_H
#define WEFT_TESTS_BEHAVIOUR_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <semaphore.h>
#include <sys/types.h>
#include <time.h>

/* errno is set to this before each observed call: `errno=kept` if it stays. */
#define SENTINEL 1234
#define MS       1000000LL

/* An errno or return value by name ("kept" for SENTINEL). */
const char *ename(int e);
/* Prints one line: what, a return value and an errno, by name. */
void show(const char *what, int rc, int err);
/* Prints a call's result and the errno it left; yields the result. */
int observe(const char *what, int rc);
/* Calls `expr` with errno at the sentinel, prints the result, yields it. */
#define OBSERVE(what, expr) (errno = SENTINEL, observe((what), (expr)))
/* Prints one line: what, and a number (a boolean for anything timing-dependent). */
void fact(const char *what, long value);

long long now_ns(clockid_t clk);
/* The absolute time `from_now_ns` from now on clock `clk`. */
struct timespec deadline(clockid_t clk, long long from_now_ns);
long long ts_ns(const struct timespec *ts);
void sleep_ms(long ms);
/* Aborts with a SETUP FAILED line when a call the test relies on fails. */
void must(int rc, const char *what);
void sem_wait_all(sem_t *s);

/* A thread that blocks until released, then returns its value. */
struct gate {
	sem_t go;      /* posted by main: finish */
	sem_t started; /* posted by the thread when it runs */
	sem_t leaving; /* posted by the thread just before it returns */
	void *value;
	pid_t tid;
};

/* Starts a gated thread returning `value`; returns once it runs. */
pthread_t start_gated(struct gate *g, void *value);
/* Releases a gated thread and waits until it has (all but) ended. */
void release(struct gate *g);
/* Waits until a released thread has ended, as the kernel sees it. */
void settle(const struct gate *g);

/* One line: what, a return value (any size) and the errno left, by name. */
long io_observe(const char *what, long rc);
#define IO(what, expr) (errno = SENTINEL, io_observe((what), (long)(expr)))
/* Prints a buffer's first `n` bytes (n from a call's result), or nothing. */
void content(const char *what, const char *buf, long n);
/*
 * Waits until thread `tid` is blocked in one of the system calls `nrs`
 * (ended by -1) with first argument `a0` (any when a0 is -1).
 */
void blocked_in(pid_t tid, long a0, const long *nrs);
/* Installs `fn` for `sig` with `flags` (SA_RESTART or not) and an empty mask. */
void install_handler(int sig, void (*fn)(int), int flags);

/* A handler that counts the signals it gets in signals_handled (errno kept). */
extern volatile sig_atomic_t signals_handled;
void count_signal(int sig);
#define BLOCKED_IN(tid, a0, ...) blocked_in((tid), (a0), (const long[]){ __VA_ARGS__, -1 })

/* Start routines: returns its argument; sleeps 200 ms, then returns it. */
void *returns_arg(void *arg);
void *sleeps_then_returns(void *arg);

/* behaviour-join.c */
void check_create_basic(void);
void check_join(void);
void check_detach(void);
void check_tryjoin(void);
void check_timedjoin(void);
void check_clockjoin(void);

/* behaviour-thread.c */
void check_values(void);
void check_setname(void);
void check_attr(void);
void check_many(void);
void check_nested(void);

/* behaviour-cancel.c */
void check_cancel(void);

/* behaviour-signal.c */
void check_signal(void);
void check_signal_target(void);
/* longjmp, _longjmp, siglongjmp, __longjmp_chk, and a jump out of a blocked read. */
void check_jump(void);

/* behaviour-sleep.c */
void check_sleep(void);

/* behaviour-sync-lock.c: a thread running fn(r) (run_start), joined by run_join. */
struct runner {
	pthread_t th;
	pid_t tid;
	sem_t started, go, done;
	void (*fn)(struct runner *r);
	void *arg;
	const char *name;
	int flag;         /* what the check asks of it */
	int rc, rc2, err; /* what it saw */
};

pid_t tid_self(void);
/* Waits until thread `tid` is blocked in a futex call on the object at [obj, obj+size). */
void blocked_on(pid_t tid, const void *obj, size_t size);
void run_start(struct runner *r, void (*fn)(struct runner *), void *arg);
void run_join(struct runner *r);
void check_mutex_types(void);
void check_mutex_pp(void);
void check_mutex_deadlines(void);
void check_mutex_robust(void);
void check_spin(void);
void check_rwlock(void);

/* behaviour-sync-wait.c */
void check_cond(void);
void check_sem(void);
void check_barrier(void);

/* behaviour-io.c */
void check_io(void);
/* behaviour-poll.c */
void check_poll(void);
/* behaviour-socket.c */
void check_socket(void);

#endif
