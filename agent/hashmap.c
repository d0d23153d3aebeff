#include <errno.h>

#include "agent/alloc.h"
#include "agent/hashmap.h"

static inline unsigned char *slot_at(const struct weft_hashmap *m, size_t i)
{
	return m->slots + i * m->stride;
}

static inline uint64_t slot_hash(const struct weft_hashmap *m, size_t i)
{
	uint64_t h;

	memcpy(&h, slot_at(m, i), sizeof(h));
	return h;
}

static inline void set_slot_hash(struct weft_hashmap *m, size_t i, uint64_t h)
{
	memcpy(slot_at(m, i), &h, sizeof(h));
}

static inline void *slot_entry(const struct weft_hashmap *m, size_t i)
{
	return slot_at(m, i) + sizeof(uint64_t);
}

void weft_hashmap_init(struct weft_hashmap *m, size_t entry_size, weft_hashmap_eq_fn eq)
{
	m->slots = NULL;
	m->cap = 0;
	m->n = 0;
	m->entry_size = entry_size;
	m->stride = (sizeof(uint64_t) + entry_size + 7) & ~(size_t)7;
	m->eq = eq;
}

void weft_hashmap_destroy(struct weft_hashmap *m)
{
	weft_free(m->slots);
	m->slots = NULL;
	m->cap = 0;
	m->n = 0;
}

/* The first empty slot from a stored hash's home, in a table of cap slots at base. */
static size_t first_empty(const unsigned char *base, size_t cap, size_t stride, uint64_t stored)
{
	size_t mask = cap - 1, i = (size_t)stored & mask;

	for (;; i = (i + 1) & mask) {
		uint64_t h;

		memcpy(&h, base + i * stride, sizeof(h));
		if (h == 0)
			return i;
	}
}

/* Moves every entry into a new array of cap slots; on failure nothing changes. */
static int resize(struct weft_hashmap *m, size_t cap)
{
	unsigned char *slots;

	if (cap > SIZE_MAX / m->stride)
		return -ENOMEM;
	slots = weft_zalloc(cap * m->stride);
	if (!slots)
		return -ENOMEM;
	for (size_t i = 0; i < m->cap; i++) {
		uint64_t h = slot_hash(m, i);

		if (h)
			memcpy(slots + first_empty(slots, cap, m->stride, h) * m->stride,
			       slot_at(m, i), m->stride);
	}
	weft_free(m->slots);
	m->slots = slots;
	m->cap = cap;
	return 0;
}

int weft_hashmap_put(struct weft_hashmap *m, uint64_t hash, const void *key, void **entry)
{
	uint64_t stored = hash | WEFT_HASHMAP_STORED_BIT;
	bool found = false;
	size_t i = 0;

	if (!m->stride) {
		*entry = NULL;
		return -EINVAL;
	}
	if (m->cap) {
		i = weft_hashmap_probe(m, stored, key, &found);
		if (found) {
			*entry = slot_entry(m, i);
			return 0;
		}
	}
	/* Grow before the load would pass 1/2, then find the empty slot again in the new array. */
	if ((m->n + 1) * 2 > m->cap) {
		if (m->cap > SIZE_MAX / 4 ||
		    resize(m, m->cap ? m->cap * 2 : WEFT_HASHMAP_MIN_CAP) < 0) {
			*entry = NULL;
			return -ENOMEM;
		}
		i = first_empty(m->slots, m->cap, m->stride, stored);
	}
	set_slot_hash(m, i, stored);
	*entry = slot_entry(m, i);
	memset(*entry, 0, m->stride - sizeof(uint64_t));
	m->n++;
	return 1;
}

int weft_hashmap_reserve(struct weft_hashmap *m, size_t n)
{
	size_t cap = m->cap ? m->cap : WEFT_HASHMAP_MIN_CAP;

	while (cap / 2 < n) {
		if (cap > SIZE_MAX / 4)
			return -ENOMEM;
		cap *= 2;
	}
	return cap > m->cap ? resize(m, cap) : 0;
}

/* Empties slot i by backward shift (see hashmap.h). */
static void remove_at(struct weft_hashmap *m, size_t i)
{
	size_t mask = m->cap - 1;

	for (size_t j = (i + 1) & mask;; j = (j + 1) & mask) {
		uint64_t h = slot_hash(m, j);

		if (h == 0)
			break;
		/* The entry at j may fill i if i lies on its probe path: home .. j. */
		if (((j - (size_t)h) & mask) >= ((j - i) & mask)) {
			memcpy(slot_at(m, i), slot_at(m, j), m->stride);
			i = j;
		}
	}
	set_slot_hash(m, i, 0);
	m->n--;
}

int weft_hashmap_remove(struct weft_hashmap *m, uint64_t hash, const void *key)
{
	bool found;
	size_t i;

	if (m->n == 0)
		return -ENOENT;
	i = weft_hashmap_probe(m, hash | WEFT_HASHMAP_STORED_BIT, key, &found);
	if (!found)
		return -ENOENT;
	remove_at(m, i);
	return 0;
}

void weft_hashmap_remove_entry(struct weft_hashmap *m, void *entry)
{
	size_t off = (size_t)((unsigned char *)entry - sizeof(uint64_t) - m->slots);

	remove_at(m, off / m->stride);
}

void *weft_hashmap_next(const struct weft_hashmap *m, size_t *pos)
{
	while (*pos < m->cap) {
		size_t i = (*pos)++;

		if (slot_hash(m, i))
			return slot_entry(m, i);
	}
	return NULL;
}

bool weft_hashmap_eq_u64(const void *entry, const void *key)
{
	uint64_t a, b;

	memcpy(&a, entry, sizeof(a));
	memcpy(&b, key, sizeof(b));
	return a == b;
}
