/*
 * The stack interpreter: program counters from STACK events, named on demand.
 *
 * A thread records a stack's counters in pieces (agent/stack.h) the first
 * time it uses the stack; this table puts them together by stack id, at most
 * MAX_STACKS of them (later ones are not kept: their waits go without a
 * stacktrace). A stack is symbolised once, when a wait span first needs it,
 * and its text is kept with it, so queued spans may point at it. Frames in
 * libweft.so itself (the trampoline that starts a thread) are left out; a
 * frame with no symbol is shown as its module and offset.
 */
#include <stdio.h>
#include <string.h>

#include "agent/alloc.h"
#include "agent/hashmap.h"
#include "agent/unwind.h"
#include "exporter/interp.h"
#include "exporter/stacks.h"
#include "exporter/symbols.h"

#define MAX_STACKS 4096

struct stack {
	uint64_t id; /* first: the table's u64 key */
	uint8_t total, have;
	uintptr_t pcs[WEFT_UNWIND_MAX_FRAMES];
	char *text;
};

static struct weft_hashmap table;

static void stacks_setup(void)
{
	weft_hashmap_init(&table, sizeof(struct stack), weft_hashmap_eq_u64);
}

static void stacks_event(struct weft_thread *t, const struct weft_event *ev)
{
	const struct weft_ev_stack *p = &ev->u.stack;
	uint64_t id = p->id;
	struct stack *s = weft_hashmap_find(&table, weft_hashmap_hash_u64(id), &id);
	void *e;

	if (!s) {
		if (weft_hashmap_count(&table) >= MAX_STACKS || p->first != 0 ||
		    weft_hashmap_put(&table, weft_hashmap_hash_u64(id), &id, &e) < 0)
			return;
		s = e;
		s->id = id;
		s->total = p->total > WEFT_UNWIND_MAX_FRAMES ? WEFT_UNWIND_MAX_FRAMES : p->total;
	}
	/* Pieces arrive in order from one thread; another thread's copy is the same. */
	if (p->first != s->have)
		return;
	for (int k = 0; k < 5 && s->have < s->total; k++)
		s->pcs[s->have++] = (uintptr_t)p->pcs[k];
}

/* Where libweft.so (or, in the unit tests, the test program) is loaded. */
static uintptr_t own_start(void)
{
	static uintptr_t start;

	if (!start && !weft_symbols_module((uintptr_t)&table, &start))
		start = UINTPTR_MAX;
	return start;
}

const char *weft_stacks_text(uint32_t id)
{
	uint64_t key = id;
	struct stack *s = weft_hashmap_find(&table, weft_hashmap_hash_u64(key), &key);
	size_t len = 0, cap;

	if (!s || s->have != s->total || !s->total)
		return NULL;
	if (s->text)
		return s->text;
	cap = (size_t)s->total * 96 + 1;
	s->text = weft_alloc(cap);
	if (!s->text)
		return NULL;
	for (int i = 0; i < s->total && len < cap; i++) {
		/* A return address: the call is the instruction before it. */
		uintptr_t pc = s->pcs[i] - 1;
		const char *name = weft_symbols_name(pc);
		uintptr_t start = 0;
		const char *path = weft_symbols_module(pc, &start);

		if (path && start == own_start())
			continue;
		if (name) {
			len += (size_t)snprintf(s->text + len, cap - len, "%s\n", name);
		} else if (path && path[0]) {
			const char *base = strrchr(path, '/');

			len += (size_t)snprintf(s->text + len, cap - len, "%s+0x%lx\n",
						base ? base + 1 : path,
						(unsigned long)(pc - start));
		} else {
			len += (size_t)snprintf(s->text + len, cap - len, "0x%lx\n",
						(unsigned long)pc);
		}
	}
	if (len && len < cap)
		s->text[len - 1] = '\0'; /* no newline after the last frame */
	return s->text;
}

static void stacks_after_fork(void)
{
	/* The parent's table may have been mid-change at the fork: leak it. */
	memset(&table, 0, sizeof(table));
}

const struct weft_interp weft_interp_stacks = {
	.name = "stacks",
	.setup = stacks_setup,
	.event = stacks_event,
	.after_fork = stacks_after_fork,
};
