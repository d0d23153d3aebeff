/*
 * One open-addressing hash table for the whole agent, used from a single
 * thread (the exporter): no locking, no atomics.
 *
 * Layout. A power-of-two array of slots; a slot is a 64-bit stored hash
 * followed by the caller's fixed-size entry, inline (entries are 8-byte
 * aligned; the caller puts its key inside its entry). The stored hash is the
 * caller's hash with its top bit set, so a stored hash of 0 means an empty
 * slot and no separate occupancy array is needed. The top bit does not take
 * part in choosing a slot: an entry's home slot is the low bits of its hash
 * (hash & (cap - 1)), so the hash must mix every input bit into its low bits
 * (weft_hashmap_hash_u64() and weft_hashmap_hash_bytes() do).
 *
 * Keys. The table never computes a hash: the caller passes one with every
 * find, put and remove, and the table keeps it in the slot, which lets growth
 * rehash without a callback and lets a probe skip most entries without calling
 * the equality callback. eq(entry, key) compares a stored entry with the
 * caller's key, in whatever form the caller likes: a u64 (weft_hashmap_eq_u64
 * compares it with the entry's first 8 bytes), an (instrument, values) tuple, a
 * program-counter array.
 *
 * Probing. Linear: from the home slot, one slot at a time, wrapping at the end.
 * Invariant: no empty slot lies between an entry's home slot and the slot it
 * is in (cyclically), so a search may stop at the first empty slot it meets.
 *
 * Load. The table grows (doubles) before an insertion would take it past half
 * full: at load a <= 1/2 linear probing costs on average about 1.5 probes for a
 * hit and 2.5 for a miss (Knuth: (1 + 1/(1-a))/2 and (1 + 1/(1-a)^2)/2; at 3/4
 * these are 2.5 and 8.5, and they grow fast with clustering from a weak
 * caller hash). The entries here are small and the tables hold hundreds to a
 * few thousand entries, so the memory this costs is a few kilobytes. The
 * table never shrinks; deletion keeps it exact (below), so no rehash to clear
 * tombstones is ever needed.
 *
 * Deletion is backward-shift (Knuth's Algorithm R), not tombstones, because
 * the fd tables delete constantly and tombstones would lengthen every probe
 * until a rebuild. Emptying slot i walks the run after it; an entry at j whose
 * home h is not cyclically in (i, j] -- its displacement (j - h) is at least
 * (j - i) -- may move back to i without breaking the invariant, and i becomes
 * j. The walk ends at the first empty slot, which is where i is emptied.
 *
 * Pointers. An entry pointer from find or put is valid until the next put
 * (which may grow the table) or remove (which may shift entries). An entry
 * that must not move -- because something else points into it -- belongs in
 * its own allocation, with a pointer to it as the table's entry.
 *
 * Memory comes from the private allocator (agent/alloc.h). A growth that fails
 * returns -ENOMEM and leaves the table exactly as it was, still usable.
 */
#ifndef WEFT_AGENT_HASHMAP_H
#define WEFT_AGENT_HASHMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* Does the stored entry hold the caller's key? */
typedef bool (*weft_hashmap_eq_fn)(const void *entry, const void *key);

struct weft_hashmap {
	unsigned char *slots; /* cap slots of stride bytes each; NULL until the first put */
	size_t cap;           /* 0 or a power of two */
	size_t n;             /* entries held */
	size_t stride;        /* 8 (the stored hash) + entry size, rounded up to 8 */
	size_t entry_size;
	weft_hashmap_eq_fn eq;
};

/* The capacity of the first allocation (16 slots: 8 entries before growing). */
#define WEFT_HASHMAP_MIN_CAP 16

/*
 * An empty table of entry_size-byte entries; allocates nothing. A zero-filled
 * struct weft_hashmap is not a table (put returns -EINVAL): after a memset of
 * a structure holding one, init it again.
 */
void weft_hashmap_init(struct weft_hashmap *m, size_t entry_size, weft_hashmap_eq_fn eq);

/* The same as a static initializer: static struct weft_hashmap m = WEFT_HASHMAP_INIT(...). */
#define WEFT_HASHMAP_INIT(entry_size_, eq_)                                                        \
	{                                                                                          \
		.slots = NULL, .cap = 0, .n = 0,                                                   \
		.stride = (sizeof(uint64_t) + (entry_size_) + 7) & ~(size_t)7,                     \
		.entry_size = (entry_size_), .eq = (eq_),                                          \
	}

/* Frees the slots; the table is empty and usable again afterwards. */
void weft_hashmap_destroy(struct weft_hashmap *m);

/* Set in every stored hash, so that 0 marks an empty slot. */
#define WEFT_HASHMAP_STORED_BIT ((uint64_t)1 << 63)

/*
 * Internal, inline because every look-up runs it: the slot that holds key
 * (*found) or, when none does, the empty slot that ends key's probe run. The
 * table is never full (load <= 1/2), so the loop ends. cap must not be 0.
 */
static inline size_t weft_hashmap_probe(const struct weft_hashmap *m, uint64_t stored,
					const void *key, bool *found)
{
	/* Locals, so that the call to eq does not make the compiler reload them. */
	const unsigned char *slots = m->slots;
	size_t mask = m->cap - 1, stride = m->stride;
	weft_hashmap_eq_fn eq = m->eq;

	for (size_t i = (size_t)stored & mask;; i = (i + 1) & mask) {
		const unsigned char *slot = slots + i * stride;
		uint64_t h;

		memcpy(&h, slot, sizeof(h));
		if (h == 0) {
			*found = false;
			return i;
		}
		if (h == stored && eq(slot + sizeof(uint64_t), key)) {
			*found = true;
			return i;
		}
	}
}

/* The entry holding key, or NULL. */
static inline void *weft_hashmap_find(const struct weft_hashmap *m, uint64_t hash, const void *key)
{
	bool found;
	size_t i;

	if (m->n == 0)
		return NULL;
	i = weft_hashmap_probe(m, hash | WEFT_HASHMAP_STORED_BIT, key, &found);
	return found ? m->slots + i * m->stride + sizeof(uint64_t) : NULL;
}

/*
 * Finds key's entry or makes one. Returns 0 with *entry the existing entry,
 * 1 with *entry a new, zero-filled entry into which the caller must write the
 * key (before the next find, so that eq recognises it), or -ENOMEM when the
 * table was full and could not grow (*entry NULL, the table unchanged), or
 * -EINVAL for a table never initialised.
 */
int weft_hashmap_put(struct weft_hashmap *m, uint64_t hash, const void *key, void **entry);

/* Makes room for n entries in all without growing again; 0 or -ENOMEM (table unchanged). */
int weft_hashmap_reserve(struct weft_hashmap *m, size_t n);

/* Removes key's entry: 0, or -ENOENT when there is none. */
int weft_hashmap_remove(struct weft_hashmap *m, uint64_t hash, const void *key);

/* Removes an entry that find, put or next returned (and that has not moved since). */
void weft_hashmap_remove_entry(struct weft_hashmap *m, void *entry);

/*
 * Iteration in slot order: start with *pos = 0; returns the next entry, or
 * NULL at the end. No put or remove while iterating.
 */
void *weft_hashmap_next(const struct weft_hashmap *m, size_t *pos);

static inline size_t weft_hashmap_count(const struct weft_hashmap *m)
{
	return m->n;
}

/* For u64 keys stored in an entry's first 8 bytes; key points to a uint64_t. */
bool weft_hashmap_eq_u64(const void *entry, const void *key);

/* A 64-bit mix (splitmix64's finaliser): every input bit reaches the low bits. */
static inline uint64_t weft_hashmap_hash_u64(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ull;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebull;
	x ^= x >> 31;
	return x;
}

/* A hash of n bytes (word at a time, each word mixed), for keys like program-counter arrays. */
static inline uint64_t weft_hashmap_hash_bytes(const void *p, size_t n)
{
	const unsigned char *b = p;
	uint64_t h = 0x9e3779b97f4a7c15ull ^ n;

	for (; n >= 8; b += 8, n -= 8) {
		uint64_t w;

		memcpy(&w, b, 8);
		h = weft_hashmap_hash_u64(h ^ w);
	}
	if (n) {
		uint64_t w = 0;

		memcpy(&w, b, n);
		h = weft_hashmap_hash_u64(h ^ w);
	}
	return h;
}

#endif
