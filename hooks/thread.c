/*
 * Thread lifecycle hooks: creation, start and end, join, detach, naming.
 *
 * A thread's span is assembled on the exporter thread from the state that
 * pthread_create prepares (ids, parent span, start routine) and the end time
 * the thread stores when it ends. Joins that block become `wait join` events.
 */
#include <dlfcn.h>
#include <errno.h>
#include <link.h>
#include <pthread.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include "agent/alloc.h"
#include "agent/clock.h"
#include "hooks/hook.h"

/* Runs on the new thread: registers it, runs the program's routine, ends it. */
static void thread_cleanup(void *arg)
{
	struct weft_thread *t = arg;

	weft_guard_enter();
	weft_thread_end(t);
	weft_guard_leave();
}

static void *thread_trampoline(void *arg)
{
	struct weft_thread *t = arg;
	void *(*fn)(void *) = t->run;
	void *fn_arg = (void *)t->next; /* parked here by pthread_create */
	void *ret;

	weft_guard_enter();
	t->next = NULL;
	weft_thread_begin(t);
	weft_guard_leave();
	/*
	 * The cleanup handler runs on return, pthread_exit and cancellation
	 * alike (compiled with -fexceptions, it is a cleanup attribute that
	 * forced unwinding honours).
	 */
	pthread_cleanup_push(thread_cleanup, t);
	ret = fn(fn_arg);
	pthread_cleanup_pop(1);
	return ret;
}

/* One word of the process's memory at addr, read through the kernel: false rather than a fault. */
static bool read_word(uintptr_t addr, uintptr_t *word)
{
	struct iovec local = { word, sizeof(*word) }, remote = { (void *)addr, sizeof(*word) };
	int saved = errno;
	bool ok = addr &&
		  process_vm_readv(getpid(), &local, 1, &remote, 1, 0) == (ssize_t)sizeof(*word);

	errno = saved;
	return ok;
}

/* Whether the loaded object `path` names is libstdc++. */
static bool is_libstdcxx(const char *path)
{
	const char *base = path ? strrchr(path, '/') : NULL;

	base = base ? base + 1 : path;
	return base && strncmp(base, "libstdc++.so", strlen("libstdc++.so")) == 0;
}

/*
 * The function a thread started at fn(arg) is named and pooled by: fn, but
 * for a C++ std::thread's. Every std::thread runs one start routine of
 * libstdc++'s (execute_native_thread_routine, a local function; the
 * pre-GCC 5 ABI's _compat twin alike), given the thread's state object
 * (std::thread::_State), whose virtual _M_run — its vtable's third entry,
 * after the two destructors — runs the program's callable: its name says
 * which (`std::thread::_State_impl<...<std::tuple<main::{lambda()#1}>
 * > >::_M_run`; exporter/symbols.h, weft_symbols_routine). A start routine
 * in libstdc++ is taken to be one of those two; the state's two words are
 * read through the kernel, so a wrong guess never faults, and one that
 * finds no address in a loaded object names the thread by fn. The last
 * start routines found to be libstdc++'s and not are kept, so a program's
 * own threads ask the loader (_dl_find_object, lock-free) once per start
 * routine in a row.
 */
static uintptr_t routine_of(void *(*fn)(void *), void *arg)
{
	static _Atomic uintptr_t cxx, other;
	uintptr_t f = (uintptr_t)fn, vptr, run;
	struct dl_find_object o;

	if (f != weft_load_relaxed(&cxx)) {
		if (f == weft_load_relaxed(&other) || _dl_find_object((void *)f, &o) != 0 ||
		    !o.dlfo_link_map || !is_libstdcxx(o.dlfo_link_map->l_name)) {
			weft_store_relaxed(&other, f);
			return f;
		}
		weft_store_relaxed(&cxx, f);
	}
	/* And the word found must be code of a loaded object. */
	if (!read_word((uintptr_t)arg, &vptr) || !read_word(vptr + 2 * sizeof(void *), &run) ||
	    !run || _dl_find_object((void *)run, &o) != 0)
		return f;
	return run;
}

/*
 * pthread_create: starts a thread running start_routine(arg); returns 0 or an
 * error number, and never sets errno. weft wraps the routine in a trampoline
 * that carries the new thread's span ids and its parent (the creator's
 * current span). It must never change the result: when weft cannot allocate
 * its state, the thread is created unwrapped. Threads created by agent code
 * (guard set) are agent threads and are never observed.
 */
WEFT_EXPORT int pthread_create(pthread_t *thread, const pthread_attr_t *attr,
			       void *(*start_routine)(void *), void *arg)
{
	WEFT_REAL_OR_FAIL(pthread_create);
	int saved = errno, rc;
	struct weft_thread *self, *child;

	if (weft_guard_active()) {
		struct weft_agent_thread_start *s = weft_alloc(sizeof(*s));

		if (!s)
			return real(thread, attr, start_routine, arg);
		s->fn = start_routine;
		s->arg = arg;
		s->own_table = weft_tls.own_table;
		rc = real(thread, attr, weft_agent_thread_trampoline, s);
		if (rc != 0)
			weft_free(s);
		return rc;
	}
	self = weft_hook_thread(WEFT_HOOK_THREAD);
	if (!self) {
		errno = saved;
		return real(thread, attr, start_routine, arg);
	}

	weft_guard_enter();
	child = weft_thread_prepare_child(self, start_routine);
	if (child)
		child->start_routine = routine_of(start_routine, arg);
	weft_guard_leave();
	errno = saved;
	if (!child)
		return real(thread, attr, start_routine, arg);
	child->next = arg; /* the trampoline takes it back before publishing */
	/* errno is the caller's going in, and whatever the real call left coming out. */
	rc = real(thread, attr, thread_trampoline, child);
	if (rc != 0) {
		saved = errno;
		weft_guard_enter();
		weft_thread_abandon_child(child);
		weft_guard_leave();
		errno = saved;
	}
	return rc;
}

/*
 * The three blocking joins share one shape. Fast path: pthread_tryjoin_np,
 * which succeeds at once when the thread has already ended (no clock read, no
 * event) and returns the same error join would for a detached or invalid
 * thread. Only EBUSY — the join will block — takes the slow path through the
 * real blocking call, which is also the cancellation point. JOIN(real call)
 * is that shape; `real` and the arguments are the hook's own.
 */
#define JOIN(call)                                                                                 \
	do {                                                                                       \
		int (*tryjoin_)(pthread_t, void **) = WEFT_REAL(pthread_tryjoin_np);               \
		struct weft_thread *self_ = weft_hook_thread(WEFT_HOOK_THREAD);                    \
		struct weft_wait w_;                                                               \
		WEFT_WAIT_UNWIND(unwind_);                                                         \
		int rc_;                                                                           \
                                                                                                   \
		if (!self_ || !tryjoin_)                                                           \
			return call;                                                               \
		rc_ = tryjoin_(th, ret);                                                           \
		if (rc_ != EBUSY)                                                                  \
			return rc_;                                                                \
		weft_wait_begin(&w_, self_, WEFT_WAIT_JOIN, (const void *)th, WEFT_CALLER);        \
		unwind_.w = &w_; /* a cancellation ends the wait (wait.h) */                       \
		rc_ = call;                                                                        \
		unwind_.w = NULL;                                                                  \
		weft_wait_end(&w_, rc_);                                                           \
		return rc_;                                                                        \
	} while (0)

/*
 * pthread_join: waits for a thread to end and reaps it; returns 0 or an error
 * number (EDEADLK, EINVAL, ESRCH), never sets errno, and is a cancellation
 * point. weft records a WAIT event only when the join blocked; the result,
 * the blocking and the cancellation behaviour are the real call's.
 */
WEFT_EXPORT int pthread_join(pthread_t th, void **ret)
{
	WEFT_REAL_OR_FAIL(pthread_join);
	JOIN(real(th, ret));
}

/*
 * pthread_timedjoin_np: as pthread_join, giving up with ETIMEDOUT at abstime
 * (CLOCK_REALTIME). A join that timed out blocked all the same and is
 * recorded with its result.
 */
WEFT_EXPORT int pthread_timedjoin_np(pthread_t th, void **ret, const struct timespec *abstime)
{
	WEFT_REAL_OR_FAIL(pthread_timedjoin_np);
	JOIN(real(th, ret, abstime));
}

/* pthread_clockjoin_np: pthread_timedjoin_np against a chosen clock. */
WEFT_EXPORT int pthread_clockjoin_np(pthread_t th, void **ret, clockid_t clk,
				     const struct timespec *abstime)
{
	WEFT_REAL_OR_FAIL(pthread_clockjoin_np);
	/*
	 * glibc rejects other clocks with EINVAL before touching the thread; the
	 * tryjoin fast path would reap it instead, so such calls pass through.
	 */
	if (clk != CLOCK_REALTIME && clk != CLOCK_MONOTONIC)
		return real(th, ret, clk, abstime);
	JOIN(real(th, ret, clk, abstime));
}

/*
 * pthread_tryjoin_np: never blocks, so there is nothing to time; it passes
 * straight through. Interposed so that every join is seen by one file.
 */
WEFT_EXPORT int pthread_tryjoin_np(pthread_t th, void **ret)
{
	WEFT_REAL_OR_FAIL(pthread_tryjoin_np);
	return real(th, ret);
}

/*
 * Records a fact about thread `th` (detached, named) after a successful call.
 * The exporter resolves `th` against thread lifetimes at time t0, because
 * pthread_t values are reused.
 */
static void record_about(struct weft_thread *self, enum weft_event_type type, pthread_t th,
			 const char *name)
{
	int saved = errno;
	struct weft_event ev = { .h = { .type = (uint8_t)type, .t0 = weft_clock_now() } };

	ev.u.about.object = (uint64_t)th;
	if (name)
		strncpy(ev.u.about.name, name, sizeof(ev.u.about.name) - 1);
	weft_record(self, &ev);
	errno = saved;
}

/*
 * pthread_detach: marks a thread as never to be joined; returns 0 or an error
 * number. weft records that the thread was detached (a detached thread that
 * is still running at exit is not a leak) after a successful call.
 */
WEFT_EXPORT int pthread_detach(pthread_t th)
{
	WEFT_REAL_OR_FAIL(pthread_detach);
	struct weft_thread *self = weft_hook_thread(WEFT_HOOK_THREAD);
	int rc;

	rc = real(th);
	if (self && rc == 0)
		record_about(self, WEFT_EV_DETACH, th, NULL);
	return rc;
}

/*
 * pthread_setname_np: sets a thread's kernel name (at most 15 bytes plus the
 * NUL, else ERANGE); returns 0 or an error number. After a successful call,
 * weft records the name for the target thread's span.
 */
WEFT_EXPORT int pthread_setname_np(pthread_t th, const char *name)
{
	WEFT_REAL_OR_FAIL(pthread_setname_np);
	struct weft_thread *self = weft_hook_thread(WEFT_HOOK_THREAD);
	int rc;

	rc = real(th, name);
	if (self && rc == 0)
		record_about(self, WEFT_EV_NAME, th, name);
	return rc;
}

/*
 * pthread_exit: ends the calling thread; never returns. weft records nothing
 * here: every thread's end — return, pthread_exit or cancellation, the main
 * thread's included — is recorded by the cleanup handler of the trampoline or
 * by the thread-specific-data destructor weft registers for every thread it
 * knows (agent/agent.c), both of which run during the real call.
 */
WEFT_EXPORT void pthread_exit(void *ret)
{
	__typeof__(weft_real.pthread_exit) real = WEFT_REAL(pthread_exit);

	if (real)
		real(ret);
	/* Unreachable unless libc has no pthread_exit: end the thread anyway. */
	for (;;)
		__builtin_trap();
}
