/*
 * Lifecycle: lazy initialisation, thread adoption, fork, and the flush at exit.
 *
 * Initialisation is a one-shot state machine advanced with a CAS: the first
 * hook (or the constructor, whichever runs first) moves UNINIT to
 * INITIALIZING and does the work; any other hook that arrives meanwhile —
 * including one reentered from inside the initialisation on the same thread —
 * sees INITIALIZING and passes straight through. Nothing here blocks on
 * another thread.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/single_threaded.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "agent/agent.h"
#include "agent/channel.h"
#include "agent/channel_exec.h"
#include "agent/alloc.h"
#include "agent/clock.h"
#include "agent/handoff.h"
#include "agent/hot.h"
#include "agent/large.h"
#include "agent/lock.h"
#include "agent/lockorder.h"
#include "agent/log.h"
#include "agent/real.h"
#include "agent/sighold.h"
#include "agent/signals.h"
#include "agent/wait.h"

_Atomic int weft_agent_state WEFT_HOT_DATA;
struct weft_config weft_cfg WEFT_HOT_DATA_TAIL;
struct weft_process weft_process;

const char *weft_wait_kind_name(enum weft_wait_kind kind)
{
#define WEFT_WAIT_NAME(name, text) [WEFT_WAIT_##name] = text,
	static const char *const names[WEFT_WAIT_KIND_COUNT] = { [WEFT_WAIT_NONE] = "none",
								 WEFT_WAIT_KINDS(WEFT_WAIT_NAME) };
#undef WEFT_WAIT_NAME

	return (unsigned)kind < WEFT_WAIT_KIND_COUNT ? names[kind] : "unknown";
}

const char *weft_event_type_name(enum weft_event_type type)
{
#define WEFT_EVENT_NAME(name, member) [WEFT_EV_##name] = #name,
	static const char *const names[WEFT_EV_COUNT] = { [WEFT_EV_NONE] = "NONE",
							  WEFT_EVENTS(WEFT_EVENT_NAME) };
#undef WEFT_EVENT_NAME

	return (unsigned)type < WEFT_EV_COUNT ? names[type] : "unknown";
}

/*
 * A pthread key whose destructor tells us when a thread ends, however it ends:
 * for adopted threads (and main), which have no trampoline. Threads weft
 * starts end in the trampoline's cleanup handler (weft_thread_begin). The
 * destructor ends the thread only if it is still this thread's state.
 */
static pthread_key_t adopted_key;
static bool adopted_key_ok;

static void adopted_thread_end(void *arg)
{
	struct weft_thread *t = arg;

	if (weft_self == t)
		weft_thread_end(t);
}

/*
 * Draws when the next hold of `kind` is sampled: 1 acquisition in
 * WEFT_HOLD_SAMPLE on average, never with sampling off.
 */
static void hold_draw(struct weft_thread *t, enum weft_wait_kind kind)
{
	uint64_t n = weft_cfg.hold_sample;

	t->hold_at[kind] =
		n ? weft_load_relaxed(&t->acquired[kind]) + 1 + weft_ids_next(&t->rng) % (2 * n - 1)
		  : UINT64_MAX;
}

/* Draws every kind's next sampled hold (a thread's state, new, reused or forked). */
static void hold_draw_all(struct weft_thread *t)
{
	for (int k = WEFT_WAIT_MUTEX; k < WEFT_HOLD_KINDS; k++)
		hold_draw(t, (enum weft_wait_kind)k);
}

/* A sampled hold older than this is given up: its unlock may never be seen. */
#define HOLD_STALE_NS (10 * 1000000000ull)

void weft_lock_hold_begin(struct weft_thread *t, enum weft_wait_kind kind, const void *object)
{
	uint64_t now;

	hold_draw(t, kind);
	if (!weft_cfg.hold_sample)
		return;
	now = weft_clock_now();
	/*
	 * One sampled hold at a time; but a lock re-initialised while held (in a
	 * fork handler), or a robust mutex whose owner died, is never unlocked
	 * through us: a sample that old is replaced rather than block sampling.
	 */
	if (t->hold_obj && now - t->hold_t0 < HOLD_STALE_NS)
		return;
	t->hold_obj = (uintptr_t)object;
	t->hold_t0 = now;
}

void weft_lock_hold_end(struct weft_thread *t, const void *pc)
{
	int saved = *weft_errno();
	struct weft_event ev = { .h = { .type = WEFT_EV_HOLD, .t0 = t->hold_t0 } };

	ev.u.wait.t1 = weft_clock_now();
	ev.u.wait.object = t->hold_obj;
	ev.u.wait.pc = (uint64_t)(uintptr_t)pc;
	t->hold_obj = 0;
	weft_record(t, &ev);
	*weft_errno() = saved;
}

/* Pushes the held-back records, the thread's `deferred_busy` set by the caller. */
static void deferred_push(struct weft_thread *t)
{
	for (uint8_t i = 0; i < t->deferred_n; i++) {
		if (t->deferred[i].h.flags & WEFT_EVF_STAMPS)
			weft_wait_times(t, &t->deferred[i]);
		weft_record_now(t, &t->deferred[i]);
	}
	t->deferred_n = 0;
}

/*
 * A signal handler that records while its thread is inside one of these
 * (deferred_busy) records at once, ahead of the records held back: their
 * only disorder, and a rare one.
 */
WEFT_HOT bool weft_record_deferred(struct weft_thread *t, const struct weft_event *ev)
{
	bool held = false;

	if (t->deferred_busy)
		return false;
	t->deferred_busy = true;
	atomic_signal_fence(memory_order_seq_cst);
	if (t->deferred_n &&
	    (!t->defer_lock || t->deferred_lock != t->defer_lock || t->deferred_n == WEFT_DEFERRED))
		deferred_push(t);
	if (t->defer_lock) {
		t->deferred[t->deferred_n++] = *ev;
		t->deferred_lock = t->defer_lock;
		held = true;
	}
	atomic_signal_fence(memory_order_seq_cst);
	t->deferred_busy = false;
	return held;
}

WEFT_HOT void weft_deferred_flush(struct weft_thread *t)
{
	int saved = *weft_errno();

	if (!t->deferred_n || t->deferred_busy)
		return;
	t->deferred_busy = true;
	atomic_signal_fence(memory_order_seq_cst);
	deferred_push(t);
	atomic_signal_fence(memory_order_seq_cst);
	t->deferred_busy = false;
	*weft_errno() = saved;
}

/* Above the frame weft sees a thread's top from: its callers' frames, up to the thread's start. */
#define STACK_TOP_MARGIN ((uintptr_t)16 << 10)

/* A new thread state, observing the configured hook families. */
static struct weft_thread *thread_alloc(void)
{
	struct weft_thread *t = weft_registry_alloc(weft_cfg.ring_size);

	if (t)
		t->hooks = weft_cfg.hooks;
	return t;
}

/* The calling thread's CPU time (a system call), 0 if it cannot be read; errno kept. */
static uint64_t thread_cpu_ns(void)
{
	struct timespec cpu;
	int saved = errno;
	uint64_t ns = 0;

	if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &cpu) == 0)
		ns = (uint64_t)cpu.tv_sec * 1000000000u + (uint64_t)cpu.tv_nsec;
	errno = saved;
	return ns;
}

/*
 * The top of the calling thread's stack as weft can tell (agent/sighold.h):
 * main's is where the process began, above it only argv's and environ's
 * strings (argv[0]'s address, which glibc keeps); an adopted thread's is
 * where weft first sees it (frames above are then judged interrupted, never
 * left: the safe way round).
 */
static __attribute__((noinline)) uintptr_t stack_top(bool is_main)
{
	uintptr_t here = (uintptr_t)__builtin_frame_address(0);

	if (is_main && (uintptr_t)program_invocation_name > here)
		return (uintptr_t)program_invocation_name;
	return here + STACK_TOP_MARGIN;
}

static struct weft_thread *thread_new_self(enum weft_thread_origin origin)
{
	struct weft_thread *t = thread_alloc();

	if (!t)
		return NULL;
	t->origin = origin;
	t->tid = gettid();
	t->self = pthread_self();
	t->start_ns = weft_clock_now();
	t->ring.top = stack_top(t->tid == weft_process.pid);
	/*
	 * A thread weft did not start (main, an adopted one) ran before weft
	 * saw it: its CPU time so far is not its life's under weft
	 * (exporter/threadtime.c starts from it). One system call, once.
	 */
	t->cpu_start_ns = thread_cpu_ns();
	weft_ids_seed(&t->rng, (uint64_t)t->tid);
	hold_draw_all(t);
	return t;
}

static void become_main(struct weft_thread *t)
{
	t->origin = WEFT_THREAD_MAIN;
	t->trace = weft_process.trace;
	t->span = weft_process.span;
	t->parent_span = weft_process.parent_span;
	t->cur_trace = t->trace;
	t->cur_trace_of_span = false;
	t->cur_span = t->span;
	weft_store_relaxed(&t->in_task, false);
}

struct weft_thread *weft_thread_adopt(void)
{
	struct weft_thread *t;
	bool is_main = gettid() == getpid();
	int saved = errno;

	if (weft_load_acquire(&weft_agent_state) != WEFT_AGENT_READY)
		return NULL;
	weft_guard_enter();
	t = thread_new_self(is_main ? WEFT_THREAD_MAIN : WEFT_THREAD_ADOPTED);
	if (t) {
		if (is_main) {
			become_main(t);
		} else {
			/* Created behind our back: a child of the process span. */
			weft_consumer.start();
			t->trace = weft_process.trace;
			t->parent_span = weft_process.span;
			t->span = weft_ids_span(&t->rng);
			t->cur_trace = t->trace;
			t->cur_trace_of_span = false;
			t->cur_span = t->span;
		}
		/*
		 * Main included: it may end by pthread_exit or by being cancelled.
		 * (With a key index past glibc's first 32, this one call allocates
		 * with the program's calloc; see weft_thread_begin.)
		 */
		if (adopted_key_ok)
			pthread_setspecific(adopted_key, t);
		weft_self_set(t);
		weft_fetch_add_relaxed(&weft_registry_live, 1);
		weft_registry_push(t);
	}
	weft_guard_leave();
	errno = saved;
	return t;
}

enum weft_push weft_thread_grow(struct weft_thread *t, const struct weft_event *ev)
{
	struct weft_held held;
	int rc;

	/*
	 * A grow under way below this one: a signal handler that ran inside it
	 * although signals are held — ThreadSanitizer runs a handler it
	 * deferred at its next interceptor, the allocation's included. Growing
	 * again would switch the ring twice, the second switch moving an event
	 * the first one published to a slot it was never written in. Dropped,
	 * as a handler's record in that window is anyway (agent/agent.h).
	 */
	if (t->growing) {
		weft_fetch_add_relaxed(&t->ring.dropped, 1);
		return WEFT_PUSH_DROPPED;
	}
	/* Inside any hook, an async-signal-safe call's too (agent/sighold.h). */
	weft_guard_enter_held(&held);
	t->growing = true;
	atomic_signal_fence(memory_order_seq_cst);
	rc = weft_registry_ring(t);
	atomic_signal_fence(memory_order_seq_cst);
	t->growing = false;
	weft_guard_leave_held(&held);
	if (rc < 0) {
		weft_fetch_add_relaxed(&t->ring.dropped, 1);
		return WEFT_PUSH_DROPPED;
	}
	return weft_ring_push_ex(&t->ring, ev);
}

/* Records the current span context (again, when stale). */
void weft_thread_resend_ctx(struct weft_thread *t)
{
	struct weft_event ev = { .h = { .type = WEFT_EV_CTX, .t0 = weft_clock_now() } };

	ev.u.ctx.trace = *weft_thread_cur_trace(t);
	ev.u.ctx.span = t->cur_span;
	t->ctx_stale = false;
	t->ctx_stale = !weft_record(t, &ev);
}

void weft_thread_set_span(struct weft_thread *t, const struct weft_trace_id *trace, uint64_t span)
{
	t->cur_trace = *trace;
	t->cur_trace_of_span = false;
	t->cur_span = span;
	/* If it is dropped, the next event that fits sends the context first. */
	weft_thread_resend_ctx(t);
}

struct weft_thread *weft_thread_prepare_child(struct weft_thread *creator, void *(*fn)(void *))
{
	struct weft_thread *t = thread_alloc();

	if (!t)
		return NULL;
	t->origin = WEFT_THREAD_CREATED;
	t->creator_tid = creator->tid;
	t->trace = *weft_thread_cur_trace(creator);
	t->parent_span = creator->cur_span;
	t->span = weft_ids_span(&creator->rng);
	t->cur_trace = t->trace;
	t->cur_trace_of_span = false;
	t->cur_span = t->span;
	t->start_routine = (uintptr_t)fn;
	t->run = fn;
	/* The program is about to have a second thread: weft needs its own. */
	weft_consumer.start();
	/* Live from now: see weft_registry_live. */
	weft_fetch_add_relaxed(&weft_registry_live, 1);
	return t;
}

void weft_thread_abandon_child(struct weft_thread *t)
{
	atomic_fetch_sub(&weft_registry_live, 1);
	weft_registry_free(t);
}

void weft_thread_begin(struct weft_thread *t)
{
	/* Near its top: what weft's trampoline and the program's routine run on is below. */
	t->ring.top = stack_top(false);
	t->tid = gettid();
	t->self = pthread_self();
	t->start_ns = weft_clock_now();
	weft_ids_seed(&t->rng, (uint64_t)t->tid);
	hold_draw_all(t);
	weft_self_set(t);
	weft_registry_push(t);
	/*
	 * No pthread_setspecific here: a thread weft starts ends through the
	 * trampoline's cleanup handler, which runs on return, pthread_exit and
	 * cancellation alike (a cleanup attribute that glibc's forced unwind
	 * honours; an unwind that cannot reach it aborts the process). Setting the
	 * key would only cost every such thread glibc's walk of its key slots
	 * when it ends (about 700 instructions, where a thread that never set a
	 * key pays 5).
	 */
}

void weft_thread_end(struct weft_thread *t)
{
	uint32_t pending;

	weft_deferred_flush(t);
	/*
	 * The CPU time it ran, exact, for where its time went
	 * (exporter/threadtime.c): one system call, no file read, and only
	 * here, as the kernel forgets the thread once it has gone. Not for a
	 * thread that lived less than WEFT_THREAD_CPU_MIN_NS: the call would
	 * cost a short-lived thread several percent of its life (thread
	 * create+join), and its time is told from its waits instead.
	 */
	if (weft_clock_now() - t->start_ns >= WEFT_THREAD_CPU_MIN_NS)
		weft_store_relaxed(&t->cpu_ns, thread_cpu_ns());

	/*
	 * glibc ends the process when its last thread ends. Once the main thread
	 * has gone and no application thread is left, the exporter thread must
	 * not be that last thread: whoever sees both facts wakes it and waits
	 * until it has stepped aside (consumer.h). Two threads write the two
	 * facts (main its exit, the last thread the count) and each then reads
	 * the other's: sequentially consistent operations guarantee at least one
	 * of them sees both. Main publishes first, and nothing reads *t once
	 * weft_registry_exit has handed it to the exporter, which may free it at
	 * once.
	 */
	if (t->origin == WEFT_THREAD_MAIN)
		atomic_store(&weft_process.main_exited, 1);
	pending = weft_registry_exit(t, weft_clock_now());
	/*
	 * Bound the memory held by exited threads: wake the exporter early, at
	 * every multiple of the mark. The count is the one this exit made, so
	 * exactly one thread sees each multiple; a second load would let two
	 * threads ending together both read past the mark and neither wake it,
	 * leaving the ended threads' states to pile up until the next timed
	 * cycle (seconds away).
	 */
	if (pending % WEFT_CONSUMER_PENDING_EXITS_WAKE == 0)
		weft_consumer_wake();
	if (atomic_load(&weft_registry_live) == 0 && atomic_load(&weft_process.main_exited))
		weft_consumer.step_aside();
}

void weft_agent_set_exit_code(int code)
{
	/* What the process really returns: exit(256) exits 0, exit(-1) 255. */
	weft_store_relaxed(&weft_process.exit_code, code & 0xff);
	weft_store_release(&weft_process.exit_code_set, 1);
}

void *weft_agent_thread_trampoline(void *arg)
{
	struct weft_agent_thread_start start = *(struct weft_agent_thread_start *)arg;

	/*
	 * Agent threads (the exporter, libcurl's resolver) are never observed:
	 * the guard first, before anything (the allocator's locks) reaches a hook.
	 */
	weft_guard_depth = 1;
	weft_signals_hold_for_good(); /* created with them blocked already; weft knows it now */
	weft_self_set(&weft_thread_dead);
	/* libcurl's resolver, started by the exporter, opens and closes in its table (fd.h). */
	weft_tls.own_table = start.own_table;
	weft_free(arg);
	return start.fn(start.arg);
}

static void new_process_identity(void)
{
	struct weft_rng rng;

	weft_ids_seed(&rng, (uint64_t)getpid());
	weft_process.span = weft_ids_span(&rng);
	weft_process.pid = getpid();
	weft_process.start_ns = weft_clock_now();
	weft_store_relaxed(&weft_process.exit_code, 0);
	weft_store_relaxed(&weft_process.exit_code_set, 0);
	weft_store_relaxed(&weft_process.main_exited, 0);
	weft_store_relaxed(&weft_process.exiting, 0);
}

/*
 * The private allocator's fork gate is closed last before the fork and opened
 * (or, in the child, reset) first after it, as its own handlers ran when it
 * registered them before ours: nothing may allocate between
 * (agent/alloc_private.c). The allocator initialises on its first
 * allocation too big for its boot arena (alloc.h), in the parent or in a
 * child: a child's few small allocations come from what is left of the arena
 * it inherits, and a parent that used the arena up has initialised the
 * allocator already.
 */
static void atfork_prepare(void)
{
	weft_guard_enter();
	weft_consumer.before_fork();
	weft_alloc_fork_prepare();
}

static void atfork_parent(void)
{
	weft_alloc_fork_parent();
	weft_chan_after_fork(false);
	weft_guard_leave();
}

/*
 * In the child only the forking thread exists; the exporter thread, and every
 * other thread's state, stayed behind. The child is a new process: a fresh
 * id secret, a `process` span parented on the forking thread's current span,
 * a registry holding just this thread, and its own exporter thread. Memory
 * that belonged to the parent's threads is not freed (the parent's exporter
 * may have been mid-way through its lists at the moment of fork); it is
 * bounded by the number of threads at fork time.
 */
static void atfork_child(void)
{
	struct weft_thread *t = weft_self;

	weft_alloc_fork_child();
	/* The current trace, derived with the parent's keys before the child's own. */
	if (t && !t->dead)
		weft_thread_cur_trace(t);
	/* The guard is held since atfork_prepare. */
	weft_ids_init_process();
	weft_registry_reset_after_fork();
	weft_chan_after_fork(true);
	weft_lockorder_after_fork_child();
	if (t && !t->dead) {
		weft_process.parent_span = t->cur_span;
		weft_process.trace = *weft_thread_cur_trace(t);
	}
	weft_process.forked = true;
	new_process_identity();
	if (t && !t->dead) {
		weft_ring_init(&t->ring, weft_load_relaxed(&t->ring.slots),
			       (uint32_t)(t->ring.mask + 1));
		t->dropped_seen = 0;
		t->exit_seen = t->ctx_stale = false;
		t->consumer = NULL;
		t->hold_obj = 0;   /* the parent's locks were re-initialised, or are the parent's */
		t->deferred_n = 0; /* records held back in the parent: the parent pushes them */
		t->defer_lock = 0;
		memset((void *)t->acquired, 0, sizeof(t->acquired));
		/* The stacks it sent went to the parent's ring: the child sends its own. */
		memset(t->stack_sent, 0, sizeof(t->stack_sent));
		memset(t->stack_site_id, 0, sizeof(t->stack_site_id));
		t->tid = gettid();
		t->self = pthread_self();
		t->start_ns = weft_process.start_ns;
		weft_ids_seed(&t->rng, (uint64_t)t->tid);
		hold_draw_all(t);
		become_main(t);
		weft_fetch_add_relaxed(&weft_registry_live, 1);
		weft_registry_push(t);
	}
	weft_consumer.after_fork_child();
	weft_guard_leave();
}

static bool agent_init(void)
{
	int expected = WEFT_AGENT_UNINIT;
	struct weft_trace_id tp_trace;
	uint64_t tp_span;
	char inherited_tp[WEFT_TRACEPARENT_LEN + 1];
	const char *traceparent = weft_cfg.traceparent;
	uint8_t tp_flags;
	struct weft_rng rng;

	if (!weft_cas_acq_rel(&weft_agent_state, &expected, WEFT_AGENT_INITIALIZING))
		return expected == WEFT_AGENT_READY;

	weft_guard_enter();
	weft_real_prepare();
	weft_config_load_zeroed(&weft_cfg);
	weft_log_set_level(weft_cfg.log_level);
	weft_chan_exec_init(!weft_cfg.sdk_disabled && weft_hooks_enabled(WEFT_HOOK_FD));
	/* The context a parent under weft handed over wins over the program's TRACEPARENT. */
	if (weft_exec_take_traceparent(inherited_tp))
		traceparent = inherited_tp;
	if (weft_cfg.sdk_disabled) {
		weft_store_release(&weft_agent_state, WEFT_AGENT_DISABLED);
		weft_guard_leave();
		return false;
	}
	weft_clock_init();
	weft_ids_init_process();
	weft_ids_seed(&rng, (uint64_t)getpid());
	if (traceparent[0] &&
	    weft_ids_parse_traceparent(traceparent, &tp_trace, &tp_span, &tp_flags) == 0) {
		weft_process.trace = tp_trace;
		weft_process.parent_span = tp_span;
		weft_process.flags = tp_flags;
	} else {
		if (traceparent[0]) {
			char shown[WEFT_LOG_ESCAPED_SIZE];

			weft_warn(
				"TRACEPARENT=%s: not a valid W3C traceparent; starting a new trace",
				weft_log_escape(traceparent, strlen(traceparent), shown,
						sizeof(shown)));
		}
		weft_ids_trace(&rng, &weft_process.trace);
		weft_process.flags = 1;
	}
	new_process_identity();
	adopted_key_ok = pthread_key_create(&adopted_key, adopted_thread_end) == 0;
	pthread_atfork(atfork_prepare, atfork_parent, atfork_child);
	weft_store_release(&weft_agent_state, WEFT_AGENT_READY);
	weft_signals_init();

	/* The main thread is the process span's thread; adopt it now if we are on it. */
	if (gettid() == getpid() && !weft_self)
		weft_thread_adopt();
	weft_guard_leave();
	return true;
}

/* Any hook may be the first: initialising must leave errno as it found it. */
bool weft_agent_init(void)
{
	int saved = errno;
	bool ready = agent_init();

	errno = saved;
	return ready;
}

__attribute__((constructor)) static void weft_agent_constructor(void)
{
	int saved = errno;

	weft_agent_init();
	errno = saved;
}

/*
 * The final export, as the process ends: from exit() after the program's
 * atexit handlers (the library destructors run then: the last moment at which
 * the whole process is still there), from _exit, from a dying signal's
 * handler, before an exec. Flushes within WEFT_EXIT_TIMEOUT.
 */
static void final_flush(void)
{
	int saved = errno;

	if (weft_load_acquire(&weft_agent_state) != WEFT_AGENT_READY) {
		errno = saved;
		return;
	}
	/*
	 * exit() called from a signal handler that interrupted this thread inside
	 * the private allocator: the thread may hold one of its locks, which the
	 * final export needs — on the exporter thread, which would block until
	 * OTEL_BSP_EXPORT_TIMEOUT, or here, which would never end. Say so and exit
	 * without the final export.
	 */
	if (weft_alloc_busy) {
		weft_warn("exit() interrupted weft's allocator (a signal handler called it); "
			  "exiting without the final export");
		errno = saved;
		return;
	}
	/* The records this thread held back for an unlock that will not come now. */
	if (weft_self && !weft_self->dead)
		weft_deferred_flush(weft_self);
	weft_guard_enter();
	weft_consumer.shutdown();
	weft_guard_leave();
	errno = saved;
}

__attribute__((destructor)) static void weft_agent_destructor(void)
{
	final_flush();
}

bool weft_agent_vfork_child(void)
{
	return (pid_t)syscall(SYS_getpid) != weft_process.pid;
}

void weft_agent_exec(struct weft_trace_id *trace, uint64_t *span)
{
	struct weft_thread *t = weft_self;

	*trace = weft_process.trace;
	*span = weft_process.span;
	if (t && !t->dead && t->cur_span) {
		*trace = *weft_thread_cur_trace(t);
		*span = t->cur_span;
	}
	if (weft_agent_vfork_child() || weft_load_acquire(&weft_agent_state) != WEFT_AGENT_READY)
		return;
	if (weft_process.forked && weft_consumer.idle()) {
		/* Fork, then exec: the child is the forking span's, as if spawned. */
		if (weft_process.parent_span) {
			*trace = weft_process.trace;
			*span = weft_process.parent_span;
		}
		return;
	}
	if (weft_alloc_busy)
		return;
	weft_store_relaxed(&weft_process.execed, 1);
	final_flush();
}

void weft_agent_signal_exit(int sig)
{
	if (weft_agent_vfork_child() || weft_guard_active())
		return;
	weft_store_relaxed(&weft_process.term_signal, sig);
	/*
	 * Without the exporter's thread the export would run here, in the
	 * handler: not an OTLP one, which calls libcurl and so the program's
	 * allocator, which the signal may have interrupted.
	 */
	if (weft_consumer.idle() && ((weft_cfg.traces_out | weft_cfg.metrics_out) & WEFT_OUT_OTLP))
		return;
	final_flush();
}

void weft_agent_quick_exit(int status)
{
	/* Not in a vfork child (the memory is the parent's), nor from weft's own code. */
	if (weft_agent_vfork_child() || weft_guard_active())
		return;
	weft_agent_set_exit_code(status);
	final_flush();
}
