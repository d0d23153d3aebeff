/*
 * agent/jump.c: what a jump out of a signal handler puts back, told where it
 * lands — a wait on view that it leaves (recorded, -EINTR, off view), one
 * already gone (off view, unrecorded), one it does not leave (kept); a jump
 * within a handler on an alternate stack (nothing left); a push under way
 * (voided, no longer under way, the next push publishes); the guard raised
 * in a frame it leaves (lowered) or not (kept). The test's own frame stands
 * for the handler, weft's frames for "above" it: only compared, never read.
 */
#include <errno.h>
#include <signal.h>
#include <string.h>

#include "agent/agent.h"
#include "agent/clock.h"
#include "agent/jump.h"
#include "agent/ring.h"
#include "tests/unit/harness.h"

static struct weft_event got[8];
static size_t n_got, n_none;

static void collect(const struct weft_event *ev, void *arg)
{
	(void)arg;
	if (ev->h.type == WEFT_EV_NONE) {
		n_none++;
		return;
	}
	if (n_got < 8)
		got[n_got] = *ev;
	n_got++;
}

static void drain(struct weft_thread *t)
{
	n_got = n_none = 0;
	weft_ring_drain(&t->ring, collect, NULL);
}

/* A wait on view, begun by a hook whose stack pointer was `sp`. */
static void on_view(struct weft_thread *t, uintptr_t sp)
{
	weft_store_relaxed(&t->wait_object, 42);
	weft_store_relaxed(&t->wait_pc, 0x1234);
	weft_store_relaxed(&t->wait_stack, 0);
	weft_store_relaxed(&t->wait_holder, 0);
	weft_store_relaxed(&t->wait_since, weft_stamp());
	t->wait_sp = sp;
	weft_store_relaxed(&t->wait_kind, (int)WEFT_WAIT_PIPE_READ);
}

static void test_waits(struct weft_thread *t)
{
	uintptr_t sp = weft_stack_pointer();
	uint64_t before = weft_clock_now();

	/* Nothing under way: nothing recorded. */
	weft_jump_landing(sp + 8192);
	drain(t);
	expect_int((int)n_got, 0);

	/* Left: landing above the wait's frame, which is above this one. */
	on_view(t, sp + 4096);
	weft_jump_landing(sp + 8192);
	expect_int(weft_load_relaxed(&t->wait_kind), 0);
	drain(t);
	assert_int((int)n_got, 1);
	expect_int(got[0].h.type, WEFT_EV_WAIT);
	expect_int(got[0].h.kind, WEFT_WAIT_PIPE_READ);
	expect_int(got[0].h.result, -EINTR);
	expect_true(got[0].h.flags & WEFT_EVF_ERRNO);
	expect_true(got[0].u.wait.object == 42 && got[0].u.wait.pc == 0x1234);
	expect_true(before <= got[0].h.t0 + 1000000 && got[0].h.t0 <= got[0].u.wait.t1);
	expect_true(got[0].u.wait.t1 <= weft_clock_now());

	/* Kept: the jump lands below the wait's frame (within the handler). */
	on_view(t, sp + 8192);
	weft_jump_landing(sp + 4096);
	expect_int(weft_load_relaxed(&t->wait_kind), WEFT_WAIT_PIPE_READ);
	drain(t);
	expect_int((int)n_got, 0);

	/* Gone: this frame is above the wait's, so it was left before (a jump unseen). */
	on_view(t, sp - 65536);
	weft_jump_landing(sp + 4096);
	expect_int(weft_load_relaxed(&t->wait_kind), 0);
	drain(t);
	expect_int((int)n_got, 0);
}

/* The handler's stack is an alternate one: a jump within it leaves nothing of the thread's. */
static void test_altstack(struct weft_thread *t)
{
	static char alt[65536] __attribute__((aligned(16)));
	stack_t ss = { .ss_sp = alt, .ss_size = sizeof(alt) }, off = { .ss_flags = SS_DISABLE };
	uintptr_t sp = weft_stack_pointer();

	assert_int(sigaltstack(&ss, NULL), 0);
	on_view(t, sp + 4096);
	weft_jump_landing((uintptr_t)alt + 1024);
	expect_int(weft_load_relaxed(&t->wait_kind), WEFT_WAIT_PIPE_READ);
	/* And one from the alternate stack to the thread's, above the wait: left. */
	weft_jump_landing(sp + 8192);
	expect_int(weft_load_relaxed(&t->wait_kind), 0);
	drain(t);
	expect_int((int)n_got, 1);
	assert_int(sigaltstack(&off, NULL), 0);
}

static void test_push(struct weft_thread *t)
{
	struct weft_ring *ring = &t->ring;
	struct weft_event ev = { .h = { .type = WEFT_EV_NAME, .t0 = 1 } };
	uintptr_t sp = weft_stack_pointer();
	uint64_t r, dropped = weft_ring_dropped(ring);

	/* A push under way in a frame above: its slot claimed and written, not published. */
	r = weft_load_relaxed(&ring->reserve);
	assert_true(weft_ring_claim(&ring->reserve, &r));
	*weft_ring_slot(ring, weft_load_relaxed(&ring->slots), weft_load_relaxed(&ring->switch_at),
			r) = ev;
	ring->sp = sp + 4096;
	weft_store_relaxed(&ring->nest, 1);

	/* Below it: kept, under way still. */
	weft_jump_landing(sp + 2048);
	expect_int((int)weft_load_relaxed(&ring->nest), 1);

	weft_jump_landing(sp + 8192);
	expect_int((int)weft_load_relaxed(&ring->nest), 0);
	expect_int((int)(weft_ring_dropped(ring) - dropped), 1);
	/* The next push publishes the void slot with its own. */
	ev.h.t0 = 2;
	expect_true(weft_ring_push(ring, &ev));
	drain(t);
	expect_int((int)n_none, 1);
	assert_int((int)n_got, 1);
	expect_true(got[0].h.t0 == 2);
}

/* Raises the guard here, then lands from a deeper frame (the handler's). */
static __attribute__((noinline)) void land_deeper(uintptr_t to)
{
	volatile char pad[256];

	pad[0] = 0;
	(void)pad[0];
	weft_jump_landing(to);
}

static void test_guard(struct weft_thread *t)
{
	uintptr_t sp;

	weft_guard_enter();
	sp = weft_tls.guard_sp;
	expect_true(sp != 0);
	/* Raised again deeper: the outer frame is the one that counts. */
	land_deeper(0);
	weft_guard_enter();
	expect_true(weft_tls.guard_sp == sp);
	weft_guard_leave();
	expect_true(weft_tls.guard_sp == sp && weft_guard_active());
	/* A jump within the handler: the guard stays. */
	land_deeper(sp - 64);
	expect_true(weft_guard_active());
	/* Out of the frame that raised it: lowered. */
	land_deeper(sp + 4096);
	expect_true(!weft_guard_active());
	expect_true(weft_tls.guard_sp == 0);
	/* The frame that raised it leaves it, later: no wrap below 0. */
	weft_guard_leave();
	expect_int((int)weft_guard_depth, 0);
	expect_true(!weft_jump_pending());

	/* Back to 0 forgets the frame. */
	weft_guard_enter();
	weft_guard_leave();
	expect_true(weft_tls.guard_sp == 0);

	/* Up with its frame unknown (0): kept, wherever the jump lands. */
	weft_guard_depth = 1;
	land_deeper(weft_stack_pointer() + 65536);
	expect_int((int)weft_guard_depth, 1);
	weft_guard_depth = 0;

	/* The thread's stack unknown (not registered, or ended): kept. */
	weft_self_set(NULL);
	weft_guard_enter();
	sp = weft_tls.guard_sp;
	land_deeper(sp + 4096);
	expect_int((int)weft_guard_depth, 1);
	weft_guard_leave();
	t->dead = true;
	weft_self_set(t);
	weft_guard_enter();
	land_deeper(weft_tls.guard_sp + 4096);
	expect_int((int)weft_guard_depth, 1);
	weft_guard_leave();
	t->dead = false;
	expect_int((int)weft_guard_depth, 0);
}

/* What a jump hook tests first: anything under way at all. */
static void test_pending(struct weft_thread *t)
{
	expect_true(!weft_jump_pending());
	weft_guard_enter();
	expect_true(weft_jump_pending());
	weft_guard_leave();
	weft_store_relaxed(&t->ring.nest, 1);
	expect_true(weft_jump_pending());
	weft_store_relaxed(&t->ring.nest, 0);
	on_view(t, weft_stack_pointer() + 4096);
	expect_true(weft_jump_pending());
	weft_store_relaxed(&t->wait_kind, 0);
	expect_true(!weft_jump_pending());
	weft_self_set(NULL);
	expect_true(!weft_jump_pending());
	weft_self_set(t);
}

int main(void)
{
	struct weft_thread *t = weft_registry_alloc(256);

	assert_true(t != NULL);
	/* Its top: well above every frame the tests name, within the stack's reach. */
	t->ring.top = weft_stack_pointer() + ((uintptr_t)1 << 20);
	weft_self_set(t);
	test_pending(t);
	test_waits(t);
	test_altstack(t);
	test_push(t);
	test_guard(t);
	weft_self_set(NULL);
	weft_registry_free(t);
	return harness_done();
}
