/*
 * The open-addressing table (agent/hashmap.h): insert, find, delete and
 * growth; a hash under which every key collides; backward-shift deletion in
 * probe runs, at exact slot positions and across the array's end; u64,
 * string-tuple and program-counter-array keys; iteration; a randomized run of
 * about 1.3M operations against a direct-indexed reference, with the probe
 * invariant checked as it goes; and allocation failure, injected by wrapping
 * mallocx (this test is linked with -Wl,--wrap=mallocx).
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/alloc.h"
#include "agent/hashmap.h"
#include "tests/unit/harness.h"

/* Allocation failure injection: the next fail_allocs calls to mallocx fail. */
void *__real_mallocx(size_t size, int flags);
void *__wrap_mallocx(size_t size, int flags);
static int fail_allocs;

void *__wrap_mallocx(size_t size, int flags)
{
	if (fail_allocs > 0) {
		fail_allocs--;
		return NULL;
	}
	return __real_mallocx(size, flags);
}

struct u64_entry {
	uint64_t key;
	uint64_t val;
};

/* The stored hash of slot i, per the layout hashmap.h describes (0: empty). */
static uint64_t stored_hash(const struct weft_hashmap *m, size_t i)
{
	uint64_t h;

	memcpy(&h, m->slots + i * m->stride, sizeof(h));
	return h;
}

static size_t slot_of(const struct weft_hashmap *m, const void *entry)
{
	return (size_t)((const unsigned char *)entry - m->slots - sizeof(uint64_t)) / m->stride;
}

/*
 * The table's invariants: capacity a power of two and at most half used, n
 * equal to the occupied slots, and no empty slot between any entry and its
 * home slot (else a search would stop short of it).
 */
static bool table_ok(const struct weft_hashmap *m)
{
	size_t used = 0, mask = m->cap - 1;

	if (m->cap == 0)
		return m->n == 0;
	if ((m->cap & mask) != 0 || m->n * 2 > m->cap)
		return false;
	for (size_t i = 0; i < m->cap; i++) {
		uint64_t h = stored_hash(m, i);

		if (!h)
			continue;
		used++;
		for (size_t j = (size_t)h & mask; j != i; j = (j + 1) & mask)
			if (!stored_hash(m, j))
				return false;
	}
	return used == m->n;
}

static struct u64_entry *put_u64(struct weft_hashmap *m, uint64_t hash, uint64_t key, int want)
{
	void *e = NULL;
	int r = weft_hashmap_put(m, hash, &key, &e);

	expect_int(r, want);
	if (r == 1)
		((struct u64_entry *)e)->key = key;
	return e;
}

static struct u64_entry *find_u64(struct weft_hashmap *m, uint64_t hash, uint64_t key)
{
	return weft_hashmap_find(m, hash, &key);
}

static void test_basic(void)
{
	struct weft_hashmap m;
	struct u64_entry *e;
	uint64_t key = 5;
	size_t found = 0;

	weft_hashmap_init(&m, sizeof(struct u64_entry), weft_hashmap_eq_u64);
	expect_true(weft_hashmap_find(&m, weft_hashmap_hash_u64(key), &key) == NULL);
	expect_int(weft_hashmap_remove(&m, weft_hashmap_hash_u64(key), &key), -ENOENT);
	expect_int(weft_hashmap_count(&m), 0);
	expect_true(m.slots == NULL);

	for (uint64_t k = 0; k < 1000; k++) {
		e = put_u64(&m, weft_hashmap_hash_u64(k), k, 1);
		assert_true(e != NULL);
		/* A new entry is zero-filled apart from the key written above. */
		expect_int(e->val, 0);
		e->val = k * 3;
	}
	expect_int(weft_hashmap_count(&m), 1000);
	/* Grown by doubling from 16 while keeping the load at most 1/2. */
	expect_int(m.cap, 2048);
	expect_true(table_ok(&m));

	/* Putting a present key finds it and changes nothing. */
	e = put_u64(&m, weft_hashmap_hash_u64(7), 7, 0);
	assert_true(e != NULL);
	expect_int(e->key, 7);
	expect_int(e->val, 21);
	expect_int(weft_hashmap_count(&m), 1000);

	for (uint64_t k = 0; k < 1000; k++) {
		e = find_u64(&m, weft_hashmap_hash_u64(k), k);
		found += e && e->key == k && e->val == k * 3;
	}
	expect_int(found, 1000);
	expect_true(find_u64(&m, weft_hashmap_hash_u64(1000), 1000) == NULL);

	/* Delete the even keys; the odd ones stay; deleting again finds nothing. */
	for (uint64_t k = 0; k < 1000; k += 2) {
		key = k;
		expect_int(weft_hashmap_remove(&m, weft_hashmap_hash_u64(k), &key), 0);
	}
	key = 0;
	expect_int(weft_hashmap_remove(&m, weft_hashmap_hash_u64(0), &key), -ENOENT);
	expect_int(weft_hashmap_count(&m), 500);
	expect_true(table_ok(&m));
	found = 0;
	for (uint64_t k = 0; k < 1000; k++) {
		e = find_u64(&m, weft_hashmap_hash_u64(k), k);
		found += (k % 2) ? (e && e->val == k * 3) : (e == NULL);
	}
	expect_int(found, 1000);

	/* A key whose hash is 0, and one whose hash has the top bit set. */
	put_u64(&m, 0, 5000, 1)->val = 1;
	put_u64(&m, UINT64_MAX, 5001, 1)->val = 2;
	expect_int(find_u64(&m, 0, 5000)->val, 1);
	expect_int(find_u64(&m, UINT64_MAX, 5001)->val, 2);
	expect_true(table_ok(&m));

	/* Destroyed, the table is empty and usable again. */
	weft_hashmap_destroy(&m);
	expect_int(weft_hashmap_count(&m), 0);
	expect_true(find_u64(&m, 0, 5000) == NULL);
	put_u64(&m, weft_hashmap_hash_u64(9), 9, 1);
	expect_int(weft_hashmap_count(&m), 1);
	expect_int(m.cap, WEFT_HASHMAP_MIN_CAP);
	weft_hashmap_destroy(&m);

	/* reserve() sizes once for n entries; a smaller reserve changes nothing. */
	expect_int(weft_hashmap_reserve(&m, 100), 0);
	expect_int(m.cap, 256);
	for (uint64_t k = 0; k < 100; k++)
		put_u64(&m, weft_hashmap_hash_u64(k), k, 1);
	expect_int(m.cap, 256);
	expect_int(weft_hashmap_reserve(&m, 10), 0);
	expect_int(m.cap, 256);
	weft_hashmap_destroy(&m);

	/* A zero-filled struct is no table: found empty, put refused. */
	{
		struct weft_hashmap z;
		void *p = (void *)1;

		memset(&z, 0, sizeof(z));
		key = 1;
		expect_true(weft_hashmap_find(&z, 1, &key) == NULL);
		expect_int(weft_hashmap_put(&z, 1, &key, &p), -EINVAL);
		expect_true(p == NULL);
		expect_int(weft_hashmap_count(&z), 0);
	}

	/* The static initializer makes the same table as init. */
	{
		static struct weft_hashmap sm =
			WEFT_HASHMAP_INIT(sizeof(struct u64_entry), weft_hashmap_eq_u64);

		weft_hashmap_init(&m, sizeof(struct u64_entry), weft_hashmap_eq_u64);
		expect_true(memcmp(&sm, &m, sizeof(m)) == 0);
		put_u64(&sm, 7, 7, 1)->val = 8;
		expect_int(find_u64(&sm, 7, 7)->val, 8);
		weft_hashmap_destroy(&sm);
	}
}

/* Entries larger than the stored hash, of a size that is not a multiple of 8. */
struct odd_entry {
	uint64_t key;
	char text[13];
};

static void test_entry_sizes(void)
{
	struct weft_hashmap m;
	size_t ok = 0;

	weft_hashmap_init(&m, sizeof(struct odd_entry), weft_hashmap_eq_u64);
	expect_int(m.stride % 8, 0);
	for (uint64_t k = 0; k < 300; k++) {
		struct odd_entry *e;
		void *p;

		assert_int(weft_hashmap_put(&m, weft_hashmap_hash_u64(k), &k, &p), 1);
		e = p;
		e->key = k;
		snprintf(e->text, sizeof(e->text), "entry %llu", (unsigned long long)k);
	}
	for (uint64_t k = 0; k < 300; k++) {
		struct odd_entry *e = weft_hashmap_find(&m, weft_hashmap_hash_u64(k), &k);
		char want[13];

		snprintf(want, sizeof(want), "entry %llu", (unsigned long long)k);
		ok += e && strcmp(e->text, want) == 0;
	}
	expect_int(ok, 300);
	weft_hashmap_destroy(&m);
}

/* Every key gets the same hash, whose home is the last slot: one run that wraps. */
static void test_all_collide(void)
{
	const uint64_t h = UINT64_MAX;
	struct weft_hashmap m;
	enum { N = 200 };
	size_t ok = 0;

	weft_hashmap_init(&m, sizeof(struct u64_entry), weft_hashmap_eq_u64);
	for (uint64_t k = 0; k < N; k++)
		put_u64(&m, h, k, 1)->val = k + 100;
	for (uint64_t k = 0; k < N; k++)
		put_u64(&m, h, k, 0);
	expect_int(weft_hashmap_count(&m), N);
	expect_true(table_ok(&m));
	for (uint64_t k = 0; k < N; k++) {
		struct u64_entry *e = find_u64(&m, h, k);
		ok += e && e->val == k + 100;
	}
	expect_int(ok, N);
	expect_true(find_u64(&m, h, N) == NULL);

	/* Delete from the middle, the start and the end of the run, checking all each time. */
	static const uint64_t order[] = { 100, 0, 199, 1, 198, 50, 51, 52, 150 };
	for (size_t d = 0; d < sizeof(order) / sizeof(order[0]); d++) {
		uint64_t key = order[d];

		expect_int(weft_hashmap_remove(&m, h, &key), 0);
		expect_true(table_ok(&m));
		ok = 0;
		for (uint64_t k = 0; k < N; k++) {
			bool gone = false;
			struct u64_entry *e = find_u64(&m, h, k);

			for (size_t x = 0; x <= d; x++)
				gone |= order[x] == k;
			ok += gone ? e == NULL : (e && e->val == k + 100);
		}
		expect_int(ok, N);
	}
	/* Delete everything left, by entry pointer. */
	for (uint64_t k = 0; k < N; k++) {
		struct u64_entry *e = find_u64(&m, h, k);

		if (e)
			weft_hashmap_remove_entry(&m, e);
	}
	expect_int(weft_hashmap_count(&m), 0);
	expect_true(table_ok(&m));
	for (size_t i = 0; i < m.cap; i++)
		expect_int(stored_hash(&m, i), 0);
	weft_hashmap_destroy(&m);
}

/*
 * Backward shift at exact positions. The hash is the home slot itself (cap 16,
 * never grown: at most 8 entries). Each case lists the homes of keys 0, 1, ...
 * in insertion order, the key deleted, and the slot every key must then be in
 * (-1: deleted).
 */
struct shift_case {
	const char *what;
	int n;
	uint64_t homes[8];
	uint64_t del;
	int want[8];
};

static const struct shift_case shift_cases[] = {
	{ "whole run shifts back", 4, { 3, 3, 3, 3 }, 0, { -1, 3, 4, 5 } },
	/*
	 * 0@3 1@4 2@5 3@6: deleting 0 moves 1 (home 3) back; 2 and 3 (home 5)
	 * are at or past home 5 relative to the new hole at 4, so they stay.
	 */
	{ "entries at home stay", 4, { 3, 3, 5, 5 }, 0, { -1, 3, 5, 6 } },
	/* 0@3 1@4 2@5 (homes 3, 4, 3): 1 is at home and stays, 2 moves over it to 3. */
	{ "skip then move", 3, { 3, 4, 3 }, 0, { -1, 4, 3 } },
	{ "last of run", 3, { 3, 3, 3 }, 2, { 3, 4, -1 } },
	{ "no run", 2, { 3, 9 }, 0, { -1, 9 } },
	/* 0@15 1@0 2@1 3@2 (homes 15, 15, 15, 0): the run wraps and shifts back across the end. */
	{ "wrap around", 4, { 15, 15, 15, 0 }, 0, { -1, 15, 0, 1 } },
	/* 0@14 1@15 2@0 3@1 (homes 14, 14, 0, 15): 2 is at home; 3 (home 15) moves to 15. */
	{ "wrap, partial", 4, { 14, 14, 0, 15 }, 1, { 14, -1, 0, 15 } },
};

static void test_backward_shift(void)
{
	for (size_t c = 0; c < sizeof(shift_cases) / sizeof(shift_cases[0]); c++) {
		const struct shift_case *sc = &shift_cases[c];
		struct weft_hashmap m;
		uint64_t key = sc->del;
		bool ok = true;

		weft_hashmap_init(&m, sizeof(struct u64_entry), weft_hashmap_eq_u64);
		for (int k = 0; k < sc->n; k++)
			put_u64(&m, sc->homes[k], (uint64_t)k, 1)->val = 10 + (uint64_t)k;
		assert_int(m.cap, 16);
		expect_int(weft_hashmap_remove(&m, sc->homes[sc->del], &key), 0);
		for (int k = 0; k < sc->n; k++) {
			struct u64_entry *e = find_u64(&m, sc->homes[k], (uint64_t)k);

			if (sc->want[k] < 0)
				ok &= e == NULL;
			else
				ok &= e && e->val == 10 + (uint64_t)k &&
				      slot_of(&m, e) == (size_t)sc->want[k];
		}
		if (!ok || !table_ok(&m))
			fprintf(stderr, "backward shift case failed: %s\n", sc->what);
		expect_true(ok);
		expect_true(table_ok(&m));
		expect_int(weft_hashmap_count(&m), sc->n - 1);
		weft_hashmap_destroy(&m);
	}
}

/* A tuple of strings, as exporter/metrics.c keys its series. */
struct tuple_entry {
	const char *vals[2];
	int64_t value;
};

static bool tuple_eq(const void *entry, const void *key)
{
	const struct tuple_entry *e = entry;
	const char *const *vals = key;

	return strcmp(e->vals[0], vals[0]) == 0 && strcmp(e->vals[1], vals[1]) == 0;
}

static uint64_t tuple_hash(const char *const *vals)
{
	uint64_t h = 0;

	for (int i = 0; i < 2; i++)
		h = weft_hashmap_hash_u64(h ^ weft_hashmap_hash_bytes(vals[i], strlen(vals[i])));
	return h;
}

/* A stack, as a table of stack ids by program counters would key it. */
struct stack_entry {
	uintptr_t pcs[8];
	size_t n;
	uint32_t id;
};

struct stack_key {
	const uintptr_t *pcs;
	size_t n;
};

static bool stack_eq(const void *entry, const void *key)
{
	const struct stack_entry *e = entry;
	const struct stack_key *k = key;

	return e->n == k->n && memcmp(e->pcs, k->pcs, k->n * sizeof(uintptr_t)) == 0;
}

static void test_other_keys(void)
{
	static const char *const t1[] = { "ab", "c" }, *const t2[] = { "a", "bc" };
	static const uintptr_t pcs[] = { 0x401000, 0x401234, 0x7f0000001000, 0x7f0000002000 };
	struct weft_hashmap m;
	struct tuple_entry *te;
	void *p;

	weft_hashmap_init(&m, sizeof(struct tuple_entry), tuple_eq);
	assert_int(weft_hashmap_put(&m, tuple_hash(t1), t1, &p), 1);
	te = p;
	te->vals[0] = t1[0];
	te->vals[1] = t1[1];
	te->value = 1;
	assert_int(weft_hashmap_put(&m, tuple_hash(t2), t2, &p), 1);
	te = p;
	te->vals[0] = t2[0];
	te->vals[1] = t2[1];
	te->value = 2;
	te = weft_hashmap_find(&m, tuple_hash(t1), t1);
	expect_true(te && te->value == 1);
	te = weft_hashmap_find(&m, tuple_hash(t2), t2);
	expect_true(te && te->value == 2);
	/* The same tuple in other buffers is the same key. */
	{
		char a[4] = "ab", c[4] = "c";
		const char *t3[] = { a, c };

		te = weft_hashmap_find(&m, tuple_hash(t3), t3);
		expect_true(te && te->value == 1);
	}
	weft_hashmap_destroy(&m);

	/* Stacks: a stack and its own prefixes are different keys. */
	weft_hashmap_init(&m, sizeof(struct stack_entry), stack_eq);
	for (size_t n = 1; n <= 4; n++) {
		struct stack_key k = { pcs, n };
		struct stack_entry *se;

		assert_int(weft_hashmap_put(&m, weft_hashmap_hash_bytes(pcs, n * sizeof(pcs[0])),
					    &k, &p),
			   1);
		se = p;
		memcpy(se->pcs, pcs, n * sizeof(pcs[0]));
		se->n = n;
		se->id = (uint32_t)n;
	}
	expect_int(weft_hashmap_count(&m), 4);
	for (size_t n = 1; n <= 4; n++) {
		struct stack_key k = { pcs, n };
		struct stack_entry *se =
			weft_hashmap_find(&m, weft_hashmap_hash_bytes(pcs, n * sizeof(pcs[0])), &k);

		expect_true(se && se->id == n);
	}
	weft_hashmap_destroy(&m);

	/* The helpers spread nearby inputs over the low bits that choose a slot. */
	{
		uint8_t seen[256] = { 0 };
		int distinct = 0;

		for (uint64_t x = 0; x < 256; x++)
			seen[weft_hashmap_hash_u64(x << 12) & 255] = 1;
		for (int i = 0; i < 256; i++)
			distinct += seen[i];
		expect_true(distinct > 128);
		expect_true(weft_hashmap_hash_bytes("ab", 2) != weft_hashmap_hash_bytes("ab\0", 3));
	}
}

static void test_iteration(void)
{
	struct weft_hashmap m;
	static uint8_t seen[500];
	struct u64_entry *e;
	size_t pos = 0, visits = 0;
	bool ok = true;

	weft_hashmap_init(&m, sizeof(struct u64_entry), weft_hashmap_eq_u64);
	expect_true(weft_hashmap_next(&m, &pos) == NULL);
	for (uint64_t k = 0; k < 500; k++)
		put_u64(&m, weft_hashmap_hash_u64(k), k, 1);
	for (uint64_t k = 0; k < 500; k += 3) {
		uint64_t key = k;

		weft_hashmap_remove(&m, weft_hashmap_hash_u64(k), &key);
	}
	pos = 0;
	while ((e = weft_hashmap_next(&m, &pos))) {
		visits++;
		ok &= e->key < 500 && e->key % 3 != 0 && !seen[e->key];
		if (e->key < 500)
			seen[e->key] = 1;
	}
	expect_true(ok);
	expect_int(visits, weft_hashmap_count(&m));
	expect_int(visits, 500 - 167);
	weft_hashmap_destroy(&m);
}

/* xorshift64*: deterministic, so a failure can be replayed. */
static uint64_t rng_state = 0x2545f4914f6cdd1dull;

static uint64_t rnd(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545f4914f6cdd1dull;
}

/*
 * ops random puts, removes and finds over keys [0, n_keys), against a
 * direct-indexed reference; hash_of picks the caller's hash. Everything is
 * compared every 65536 operations and at the end.
 */
static void random_run(size_t ops, uint64_t n_keys, uint64_t (*hash_of)(uint64_t))
{
	struct weft_hashmap m;
	uint64_t *ref = calloc(n_keys, sizeof(*ref)); /* 0: absent, else value */
	size_t ref_n = 0, bad = 0;

	assert_true(ref != NULL);
	weft_hashmap_init(&m, sizeof(struct u64_entry), weft_hashmap_eq_u64);
	for (size_t op = 0; op < ops && bad < 10; op++) {
		uint64_t r = rnd(), k = (r >> 8) % n_keys, h = hash_of(k);
		unsigned what = (unsigned)(r & 0xff);
		struct u64_entry *e;

		if (what < 110) {
			void *p;
			int got = weft_hashmap_put(&m, h, &k, &p);

			bad += got != (ref[k] ? 0 : 1);
			e = p;
			if (got == 1) {
				e->key = k;
				ref_n++;
			} else if (got == 0) {
				bad += e->key != k || e->val != ref[k];
			}
			if (e)
				e->val = ref[k] = (r >> 32) | 1;
		} else if (what < 200) {
			int got = weft_hashmap_remove(&m, h, &k);

			bad += got != (ref[k] ? 0 : -ENOENT);
			if (ref[k])
				ref_n--;
			ref[k] = 0;
		} else {
			e = weft_hashmap_find(&m, h, &k);
			bad += ref[k] ? !(e && e->key == k && e->val == ref[k]) : e != NULL;
		}
		if ((op & 0xffff) == 0xffff || op + 1 == ops) {
			bad += !table_ok(&m);
			bad += weft_hashmap_count(&m) != ref_n;
			for (uint64_t x = 0; x < n_keys; x++) {
				e = find_u64(&m, hash_of(x), x);
				bad += ref[x] ? !(e && e->val == ref[x]) : e != NULL;
			}
		}
	}
	expect_int(bad, 0);
	weft_hashmap_destroy(&m);
	free(ref);
}

static uint64_t good_hash(uint64_t k)
{
	return weft_hashmap_hash_u64(k);
}

/* Multiples of 64: every home slot is a multiple of 64, so long runs form and wrap. */
static uint64_t clumped_hash(uint64_t k)
{
	return (k % 7) << 6;
}

static void test_random(void)
{
	random_run(1000000, 40000, good_hash);
	random_run(300000, 700, clumped_hash);
	random_run(50000, 100, clumped_hash);
}

static void test_alloc_failure(void)
{
	struct weft_hashmap m;
	struct u64_entry *e;
	void *p = (void *)1;
	uint64_t key = 1;
	size_t ok = 0;

	weft_hashmap_init(&m, sizeof(struct u64_entry), weft_hashmap_eq_u64);
	/* The very first allocation fails: still an empty, usable table. */
	fail_allocs = 1;
	expect_int(weft_hashmap_put(&m, weft_hashmap_hash_u64(key), &key, &p), -ENOMEM);
	expect_true(p == NULL);
	expect_int(weft_hashmap_count(&m), 0);
	expect_true(weft_hashmap_find(&m, weft_hashmap_hash_u64(key), &key) == NULL);

	/* Eight entries fill 16 slots to 1/2; the ninth needs a growth that fails. */
	for (uint64_t k = 0; k < 8; k++)
		put_u64(&m, weft_hashmap_hash_u64(k), k, 1)->val = k + 1;
	assert_int(m.cap, 16);
	fail_allocs = 1;
	key = 8;
	p = (void *)1;
	expect_int(weft_hashmap_put(&m, weft_hashmap_hash_u64(key), &key, &p), -ENOMEM);
	expect_true(p == NULL);
	expect_int(fail_allocs, 0);
	expect_int(m.cap, 16);
	expect_int(weft_hashmap_count(&m), 8);
	expect_true(table_ok(&m));
	for (uint64_t k = 0; k < 8; k++) {
		e = find_u64(&m, weft_hashmap_hash_u64(k), k);
		ok += e && e->val == k + 1;
	}
	expect_int(ok, 8);
	expect_true(find_u64(&m, weft_hashmap_hash_u64(8), 8) == NULL);
	fail_allocs = 1;
	expect_int(weft_hashmap_reserve(&m, 100), -ENOMEM);
	expect_int(m.cap, 16);
	expect_int(weft_hashmap_count(&m), 8);

	/* Still usable: a present key needs no memory, nor does a new one after a removal. */
	fail_allocs = 1000;
	e = put_u64(&m, weft_hashmap_hash_u64(3), 3, 0);
	expect_true(e && e->val == 4);
	key = 0;
	expect_int(weft_hashmap_remove(&m, weft_hashmap_hash_u64(key), &key), 0);
	put_u64(&m, weft_hashmap_hash_u64(8), 8, 1)->val = 9;
	expect_int(weft_hashmap_count(&m), 8);
	fail_allocs = 0;

	/* Memory back: the growth succeeds and keeps everything. */
	put_u64(&m, weft_hashmap_hash_u64(9), 9, 1)->val = 10;
	expect_int(m.cap, 32);
	ok = 0;
	for (uint64_t k = 1; k < 10; k++) {
		e = find_u64(&m, weft_hashmap_hash_u64(k), k);
		ok += e && e->val == k + 1;
	}
	expect_int(ok, 9);
	expect_true(table_ok(&m));
	weft_hashmap_destroy(&m);
}

int main(void)
{
	test_basic();
	test_entry_sizes();
	test_all_collide();
	test_backward_shift();
	test_other_keys();
	test_iteration();
	test_random();
	test_alloc_failure();
	return harness_done();
}
