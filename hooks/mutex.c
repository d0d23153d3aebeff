/*
 * Mutex and spin lock hooks: acquisitions counted, contention timed.
 *
 * Every acquisition first tries the lock without blocking (the real try
 * operation, which for each mutex type — normal, recursive, errorcheck,
 * adaptive, robust, priority-inherit or -protect — acquires exactly when the
 * blocking call would acquire at once, with the same result). Success costs a
 * thread-local counter. Only when the try says the lock is held (EBUSY) does
 * the hook take the slow path: the owner's thread id is read from the mutex
 * (glibc keeps it in every type), the wait is timed around the real blocking
 * call, and one WAIT event is recorded. The real call then decides
 * everything: a self-deadlock on a normal mutex deadlocks, as natively (and
 * is timed: a wait on oneself); on an errorcheck mutex it returns EDEADLK at
 * once, which is no wait, so that call is made untimed.
 *
 * Robust mutexes are the exception: glibc's trylock of a robust mutex that
 * is no longer recoverable returns ENOTRECOVERABLE but leaves the lock word
 * holding the caller's id (it unlocks only `if (oldval == id)`, after a
 * compare-and-swap that left oldval 0), so a try in front of the program's
 * lock would leave its mutex locked where natively it is not. For a robust
 * mutex the hook reads the lock word instead: free (or its owner dead), the
 * real call is made untimed; held, it is timed. Only telemetry is racy.
 */
#include <pthread.h>

#include "agent/hot.h"
#include "agent/lock.h"
#include "agent/lockorder.h"
#include "hooks/hook.h"

/* The owner's kernel thread id; a racy read of the program's mutex, on purpose. */
static int mutex_owner(const pthread_mutex_t *m)
{
	return ((const volatile pthread_mutex_t *)m)->__data.__owner & 0x3fffffff;
}

/* glibc's PTHREAD_MUTEX_ROBUST_NORMAL_NP bit of the mutex kind, and its type bits. */
#define MUTEX_KIND_ROBUST 16
#define MUTEX_KIND_TYPE   3

/*
 * The try in front of a blocking acquisition: EBUSY when the call would
 * block, else the result of an acquisition made (0, EOWNERDEAD, an error),
 * or -1 when the real call is to be made untimed. That is the real trylock,
 * but for a robust mutex (see above), whose lock word is read instead, and
 * for an errorcheck mutex the caller holds: its lock returns EDEADLK at once.
 * A default mutex (kind 0: not recursive, robust, errorcheck, priority or
 * elided) whose lock word is not 0 is busy without a try: the real
 * trylock's compare-and-swap on a held lock takes its cache line from the
 * holder, whose unlock then waits to take it back, and the real lock's own
 * compare-and-swap follows at once (a mutex+condvar job queue, five threads
 * on one mutex, ran about 5% faster without it). A holder that releases the
 * lock between the read and the real call makes a wait of a few
 * nanoseconds: contention all the same, since the lock was held when asked for.
 */
static int mutex_try(pthread_mutex_t *m, const struct weft_thread *self)
{
	const volatile pthread_mutex_t *v = m;
	int rc;

	if (v->__data.__kind == PTHREAD_MUTEX_TIMED_NP && v->__data.__lock != 0)
		return EBUSY;
	if (!(v->__data.__kind & MUTEX_KIND_ROBUST))
		rc = WEFT_REAL(pthread_mutex_trylock)(m);
	else
		rc = (v->__data.__lock & 0x3fffffff) ? EBUSY : -1;
	if (rc == EBUSY && (v->__data.__kind & MUTEX_KIND_TYPE) == PTHREAD_MUTEX_ERRORCHECK &&
	    mutex_owner(m) == self->tid)
		return -1;
	return rc;
}

/*
 * With WEFT_LOCK_ORDER the fast paths jump to the two functions below
 * (mutex_lock_first switches them): whether they do is the one test every
 * path makes, so that no lock is followed before its unlock is.
 */
static int mutex_lock_ordered(pthread_mutex_t *m);
static __typeof__(pthread_mutex_lock) *mutex_lock_next;

static inline bool lock_order_on(void)
{
	return __atomic_load_n(&mutex_lock_next, __ATOMIC_ACQUIRE) == mutex_lock_ordered;
}

/* The results with which a lock call returns holding the lock. */
static bool acquired(int rc)
{
	return rc == 0 || rc == EOWNERDEAD;
}

/*
 * The shape of every blocking mutex acquisition, for a thread `self` that is
 * observed: try, count, or time the real blocking call `call` with the owner
 * as holder; `pc` is the hook's caller.
 */
#define MUTEX_ACQUIRE_AS(self, m, pc, call)                                                        \
	do {                                                                                       \
		struct weft_wait w_;                                                               \
		int rc_ = mutex_try(m, self);                                                      \
                                                                                                   \
		if (rc_ == EBUSY) {                                                                \
			weft_wait_begin(&w_, self, WEFT_WAIT_MUTEX, m, pc);                        \
			weft_wait_holder(&w_, mutex_owner(m));                                     \
			rc_ = call;                                                                \
			/* Recorded after the unlock, outside the critical section. */             \
			if (acquired(rc_))                                                         \
				weft_wait_hold(&w_, m);                                            \
			weft_wait_end_held(&w_, rc_);                                              \
			weft_defer_end(self);                                                      \
		} else if (rc_ == -1) {                                                            \
			rc_ = call;                                                                \
		}                                                                                  \
		if (acquired(rc_)) {                                                               \
			weft_lock_acquired(self, WEFT_WAIT_MUTEX, m);                              \
			if (__builtin_expect(lock_order_on(), 0))                                  \
				weft_lockorder_acquired(self, m, pc);                              \
		}                                                                                  \
		return rc_;                                                                        \
	} while (0)

/* The same in a hook: the calling thread, if observed; else the call alone. */
#define MUTEX_ACQUIRE(m, call)                                                                     \
	do {                                                                                       \
		struct weft_thread *self_ = weft_hook_thread(WEFT_HOOK_MUTEX);                     \
                                                                                                   \
		if (!self_)                                                                        \
			return call;                                                               \
		MUTEX_ACQUIRE_AS(self_, m, WEFT_CALLER, call);                                     \
	} while (0)

/*
 * A timed acquisition with a deadline glibc rejects: it returns EINVAL at
 * once if the mutex is held, or acquires a free one without looking at the
 * deadline. Either way no wait: the real call, untimed, counted if acquired.
 */
#define MUTEX_UNTIMED(m, call)                                                                     \
	do {                                                                                       \
		struct weft_thread *self_ = weft_hook_thread(WEFT_HOOK_MUTEX);                     \
		int rc_ = call;                                                                    \
                                                                                                   \
		if (self_ && acquired(rc_)) {                                                      \
			weft_lock_acquired(self_, WEFT_WAIT_MUTEX, m);                             \
			if (__builtin_expect(lock_order_on(), 0))                                  \
				weft_lockorder_acquired(self_, m, WEFT_CALLER);                    \
		}                                                                                  \
		return rc_;                                                                        \
	} while (0)

/*
 * Whether the lock word reads 0 (the mutex looks free); a racy read, as
 * above. On x86-64 one compare with memory, whose flag the branch uses.
 */
static bool mutex_looks_free(const pthread_mutex_t *m)
{
#ifdef __x86_64__
	bool zero;

	__asm__("cmpl $0, %1" : "=@ccz"(zero) : "m"(m->__data.__lock));
	return zero;
#else
	return ((const volatile pthread_mutex_t *)m)->__data.__lock == 0;
#endif
}

/*
 * pthread_mutex_lock of a mutex that does not look free, on a thread whose
 * gate is open: MUTEX_ACQUIRE's way, out of line. `pc` is the hook's caller.
 */
static __attribute__((noinline)) int mutex_lock_slow(struct weft_thread *self, pthread_mutex_t *m,
						     const void *pc)
{
	MUTEX_ACQUIRE_AS(self, m, pc, WEFT_REAL(pthread_mutex_lock)(m));
}

/*
 * With WEFT_LOCK_ORDER, where the fast paths jump instead of libc's
 * functions: the real call, and the thread's held locks kept (agent/
 * lockorder.h). Reached by tail calls, so the caller is the hook's caller.
 */
static __attribute__((noinline)) int mutex_lock_ordered(pthread_mutex_t *m)
{
	const void *pc = WEFT_CALLER;
	int rc = weft_real.pthread_mutex_lock(m);

	/* Only the fast path comes here: its gate said the thread is observed. */
	if (acquired(rc))
		weft_lockorder_acquired(weft_self, m, pc);
	return rc;
}

static __attribute__((noinline)) int mutex_unlock_ordered(pthread_mutex_t *m)
{
	/* The lock's gate test: a thread not yet registered is not adopted by an unlock. */
	if (weft_tls_open(WEFT_HOOK_MUTEX))
		weft_lockorder_released(weft_self, m);
	return weft_real.pthread_mutex_unlock(m);
}

/*
 * Where the two hottest hooks' fast paths jump: libc's functions, after a
 * first call that resolves them (mutex_lock_first, mutex_unlock_first), or
 * with WEFT_LOCK_ORDER, the two above.
 * Never NULL, so that the fast paths need not test them. Written as
 * weft_real's entries are (racing writers store the same pointer), and read
 * plainly.
 */
static int mutex_lock_first(pthread_mutex_t *m);
static int mutex_unlock_first(pthread_mutex_t *m);
static __typeof__(pthread_mutex_lock) *mutex_lock_next WEFT_HOT_DATA = mutex_lock_first;
static __typeof__(pthread_mutex_unlock) *mutex_unlock_next WEFT_HOT_DATA = mutex_unlock_first;

/*
 * pthread_mutex_lock the general way (see there): the symbol resolved (or its
 * fallback), the full observe test, then the try in front of the real lock.
 */
static __attribute__((noinline)) int mutex_lock_general(pthread_mutex_t *m, const void *pc)
{
	WEFT_REAL_OR_FAIL(pthread_mutex_lock);
	struct weft_thread *self = weft_hook_thread(WEFT_HOOK_MUTEX);

	if (!self)
		return real(m);
	MUTEX_ACQUIRE_AS(self, m, pc, real(m));
}

/*
 * The fast path's jump until the first call through it: the real lock
 * (resolving it, or its fallback inside dlsym), then the jump goes straight
 * to libc. The fast path has counted the acquisition already.
 */
static int mutex_lock_first(pthread_mutex_t *m)
{
	WEFT_REAL_OR_FAIL(pthread_mutex_lock);
	if (weft_real.pthread_mutex_lock) { /* not the fallback */
		/*
		 * The fast path runs on a registered thread: the configuration is
		 * read. The unlock's jump follows, whatever it was set to before.
		 */
		if (weft_cfg.lock_order && WEFT_REAL(pthread_mutex_unlock)) {
			/*
			 * The unlock's jump first: a lock taken through the new
			 * jump is always released through its partner (release:
			 * the compiler and the processor keep the order).
			 */
			mutex_unlock_next = mutex_unlock_ordered;
			__atomic_store_n(&mutex_lock_next, mutex_lock_ordered, __ATOMIC_RELEASE);
			return mutex_lock_ordered(m);
		}
		mutex_lock_next = weft_real.pthread_mutex_lock;
	}
	return real(m);
}

/* pthread_mutex_lock of a free mutex whose hold is sampled. */
static __attribute__((noinline)) int mutex_lock_sampled(struct weft_thread *self,
							pthread_mutex_t *m)
{
	weft_lock_sample(self, WEFT_WAIT_MUTEX, m);
	return mutex_lock_next(m);
}

/*
 * pthread_mutex_unlock of the mutex in the unlock watch: ends a sampled hold
 * of this mutex, records what was held back for this unlock (agent/agent.h)
 * once the mutex is free, and brings the watch back to the hold being
 * sampled, if any.
 */
static __attribute__((noinline)) int mutex_unlock_slow(pthread_mutex_t *m, const void *pc)
{
	WEFT_REAL_OR_FAIL(pthread_mutex_unlock);
	struct weft_thread *self = weft_hook_thread(WEFT_HOOK_MUTEX);
	int rc;

	if (!self) {
		weft_lock_watch_sync();
		return real(m);
	}
	if (__builtin_expect(lock_order_on(), 0))
		weft_lockorder_released(self, m);
	/* The hold's end is timed here and recorded, with what waited for this unlock, after it. */
	weft_defer_begin(self, m);
	weft_lock_released(self, m, pc);
	weft_defer_end(self);
	rc = real(m);
	weft_deferred_flush(self);
	weft_lock_watch_sync();
	return rc;
}

/* The same for the unlock (not in the watch: no sampled hold ends here). */
static int mutex_unlock_first(pthread_mutex_t *m)
{
	WEFT_REAL_OR_FAIL(pthread_mutex_unlock);
	__typeof__(pthread_mutex_unlock) *first = mutex_unlock_first;

	/*
	 * Only from this function to libc's (not the fallback): a jump that
	 * mutex_lock_first set to the lock-order one stays so.
	 */
	if (weft_real.pthread_mutex_unlock)
		__atomic_compare_exchange_n(&mutex_unlock_next, &first,
					    weft_real.pthread_mutex_unlock, false, __ATOMIC_RELAXED,
					    __ATOMIC_RELAXED);
	return real(m);
}

/*
 * pthread_mutex_lock: acquires the mutex, blocking while another thread holds
 * it; returns 0, EOWNERDEAD (robust, acquired), or an error number (EDEADLK,
 * EAGAIN, EINVAL, ENOTRECOVERABLE), never sets errno, and is no cancellation
 * point. weft counts the acquisition, and times and records only a call that
 * found the mutex held; it never changes the result or the blocking. Called
 * inside dlsym (a malloc that locks), it locks through glibc's
 * __pthread_mutex_lock.
 */
WEFT_EXPORT WEFT_HOT int pthread_mutex_lock(pthread_mutex_t *m)
{
	/*
	 * The hottest hook, written so that every path of its own ends in a
	 * tail call: no frame, nothing saved. One test of the thread's gate
	 * (agent/guard.h) says whether to observe at all: anything unusual —
	 * agent code (the guard), a thread not yet registered or ended, the
	 * family off — goes the general way, out of line.
	 */
	if (__builtin_expect(!weft_tls_open(WEFT_HOOK_MUTEX), 0))
		return mutex_lock_general(m, WEFT_CALLER);
	/*
	 * A mutex whose lock word reads 0 is free (every type keeps 0 there
	 * when unlocked, but a priority-protect one, whose ceiling lives there
	 * too): it is locked with the real lock itself, because glibc's
	 * trylock of a free mutex costs about as much again as its lock
	 * (bench-sync). Another thread may take it between the read and the
	 * lock: then this call blocks untimed (one wait unrecorded, the result
	 * the real call's as always). The acquisition is counted before the
	 * call (a mutex that is not a valid one, EINVAL, or an unrecoverable
	 * robust one, ENOTRECOVERABLE, is counted once too many). Any other
	 * word takes MUTEX_ACQUIRE's way, out of line.
	 */
	if (__builtin_expect(mutex_looks_free(m), 1)) {
		struct weft_thread *self = weft_self;

		if (weft_lock_count(self, WEFT_WAIT_MUTEX))
			return mutex_lock_sampled(self, m);
		return mutex_lock_next(m);
	}
	return mutex_lock_slow(weft_self, m, WEFT_CALLER);
}

/* pthread_mutex_timedlock: as pthread_mutex_lock, giving up with ETIMEDOUT at abstime. */
WEFT_EXPORT int pthread_mutex_timedlock(pthread_mutex_t *m, const struct timespec *abstime)
{
	WEFT_REAL_OR_FAIL(pthread_mutex_timedlock);
	if (weft_hook_bad_deadline(CLOCK_REALTIME, abstime))
		MUTEX_UNTIMED(m, real(m, abstime));
	MUTEX_ACQUIRE(m, real(m, abstime));
}

/* pthread_mutex_clocklock: pthread_mutex_timedlock against a chosen clock. */
WEFT_EXPORT int pthread_mutex_clocklock(pthread_mutex_t *m, clockid_t clk,
					const struct timespec *abstime)
{
	WEFT_REAL_OR_FAIL(pthread_mutex_clocklock);
	/* Other clocks are EINVAL before anything is tried: pass them through. */
	if (clk != CLOCK_REALTIME && clk != CLOCK_MONOTONIC)
		return real(m, clk, abstime);
	if (weft_hook_bad_deadline(clk, abstime))
		MUTEX_UNTIMED(m, real(m, clk, abstime));
	MUTEX_ACQUIRE(m, real(m, clk, abstime));
}

/*
 * pthread_mutex_trylock: acquires the mutex only if that needs no wait;
 * returns 0, EOWNERDEAD, EBUSY or an error number. Never blocks: weft counts
 * a successful acquisition and nothing else.
 */
WEFT_EXPORT int pthread_mutex_trylock(pthread_mutex_t *m)
{
	WEFT_REAL_OR_FAIL(pthread_mutex_trylock);
	struct weft_thread *self = weft_hook_thread(WEFT_HOOK_MUTEX);
	int rc = real(m);

	if (self && acquired(rc))
		weft_lock_acquired(self, WEFT_WAIT_MUTEX, m);
	return rc;
}

/*
 * pthread_mutex_unlock: releases the mutex; returns 0 or an error number
 * (EPERM for an errorcheck or robust mutex the caller does not own). weft ends
 * a sampled hold of this mutex first (attributed to the caller), then calls
 * the real function.
 */
WEFT_EXPORT WEFT_HOT int pthread_mutex_unlock(pthread_mutex_t *m)
{
	/*
	 * Only an unlock that may end a sampled hold has anything to do here:
	 * every mutex whose hold this thread samples is in its unlock watch
	 * (agent/lock.h), so any other goes straight to libc (resolved on the
	 * first call: mutex_unlock_first). A thread not yet registered is not
	 * adopted here: its next lock does that. Frameless.
	 */
	if (__builtin_expect(weft_tls.unlock_watch == (uintptr_t)m, 0))
		return mutex_unlock_slow(m, WEFT_CALLER);
	return mutex_unlock_next(m);
}

/*
 * pthread_mutex_destroy: destroys the mutex; returns 0, or an error number
 * (EBUSY: it is locked). With WEFT_LOCK_ORDER, a destroyed lock's edges are
 * forgotten (its address may come back as another lock's); otherwise the
 * call passes through.
 */
WEFT_EXPORT int pthread_mutex_destroy(pthread_mutex_t *m)
{
	WEFT_REAL_OR_FAIL(pthread_mutex_destroy);
	int rc = real(m);

	if (rc == 0 && __builtin_expect(lock_order_on(), 0))
		weft_lockorder_destroyed(m);
	return rc;
}

/*
 * pthread_spin_lock: spins until the lock is free; returns 0 (or EDEADLK
 * where an implementation detects self-deadlock). Spinning is waiting too: an
 * acquisition that found the lock held is timed as a `spin` wait.
 */
WEFT_EXPORT int pthread_spin_lock(pthread_spinlock_t *l)
{
	WEFT_REAL_OR_FAIL(pthread_spin_lock);
	struct weft_thread *self = weft_hook_thread(WEFT_HOOK_MUTEX);
	struct weft_wait w;
	int rc;

	if (!self)
		return real(l);
	rc = WEFT_REAL(pthread_spin_trylock)(l);
	if (rc == EBUSY) {
		weft_wait_begin(&w, self, WEFT_WAIT_SPIN, (const void *)l, WEFT_CALLER);
		rc = real(l);
		weft_wait_end(&w, rc);
	}
	if (rc == 0)
		weft_lock_counted(self, WEFT_WAIT_SPIN); /* no unlock hook: never sampled */
	return rc;
}

/* pthread_spin_trylock: never spins; a success is counted. */
WEFT_EXPORT int pthread_spin_trylock(pthread_spinlock_t *l)
{
	WEFT_REAL_OR_FAIL(pthread_spin_trylock);
	struct weft_thread *self = weft_hook_thread(WEFT_HOOK_MUTEX);
	int rc = real(l);

	if (self && rc == 0)
		weft_lock_counted(self, WEFT_WAIT_SPIN);
	return rc;
}
