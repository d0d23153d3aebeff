/*
 * A small JSON reader for weft's own files (exporter/otlp_read.h reads them).
 *
 * One text — one line of a JSON Lines file — is parsed whole into a tree of
 * nodes kept in the reader's node array, which is reused from one text to the
 * next (it grows to the largest line and stays there: lines are bounded by
 * the export batch). Strings are decoded in place, inside the caller's buffer,
 * and NUL-terminated there (an escape is never shorter than what it stands
 * for), so nothing is copied; the tree points into the buffer and is valid
 * until the next parse or until the buffer changes.
 *
 * Numbers are kept as their text (weft writes 64-bit integers as decimal
 * strings anyway, and a double's text is read only when wanted); \u escapes,
 * surrogate pairs included, become UTF-8, a lone surrogate U+FFFD. Bytes that
 * are not valid UTF-8 are passed through as they are. Containers nest at most
 * WEFT_JSON_READ_MAX_DEPTH deep.
 *
 * Only the standard library's allocator is used: this runs in weft's helper
 * executable (weft-read), never in a preloaded process.
 */
#ifndef WEFT_EXPORTER_JSON_READ_H
#define WEFT_EXPORTER_JSON_READ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define WEFT_JSON_READ_MAX_DEPTH 64

enum weft_json_type {
	WEFT_JSON_NULL,
	WEFT_JSON_FALSE,
	WEFT_JSON_TRUE,
	WEFT_JSON_NUMBER, /* s, len: its text (not NUL-terminated) */
	WEFT_JSON_STRING, /* s, len: decoded, NUL-terminated */
	WEFT_JSON_ARRAY,
	WEFT_JSON_OBJECT,
};

/*
 * A value. Members of a container are linked through `next` (an index into
 * the node array; 0 ends the list, node 0 being the root), starting at
 * `first`. A member of an object has its key (decoded, NUL-terminated).
 */
struct weft_json_node {
	const char *s;
	const char *key;
	uint32_t len;
	uint32_t first, next;
	uint32_t count; /* members of a container */
	uint8_t type;
};

struct weft_json_reader {
	struct weft_json_node *nodes;
	size_t n, cap;
	const char *error; /* why the last parse failed (a literal) */
	size_t error_at;   /* the byte offset where it did */
};

void weft_json_read_init(struct weft_json_reader *r);
void weft_json_read_free(struct weft_json_reader *r);

/*
 * Parses the `len` bytes at `text` (changed in place) as one JSON value,
 * surrounded by optional white space. 0, -EINVAL (not JSON, cut short or too
 * deep: r->error says which) or -ENOMEM. The root is weft_json_read_root().
 */
int weft_json_read_parse(struct weft_json_reader *r, char *text, size_t len);

static inline const struct weft_json_node *weft_json_read_root(const struct weft_json_reader *r)
{
	return r->n ? &r->nodes[0] : NULL;
}

/* The first member of container `c`, the one after `m`: NULL when there is none. */
static inline const struct weft_json_node *weft_json_read_first(const struct weft_json_reader *r,
								const struct weft_json_node *c)
{
	return c && c->first ? &r->nodes[c->first] : NULL;
}

static inline const struct weft_json_node *weft_json_read_next(const struct weft_json_reader *r,
							       const struct weft_json_node *m)
{
	return m->next ? &r->nodes[m->next] : NULL;
}

/* Object `o`'s member `key` (the first, if repeated); NULL if absent or `o` is no object. */
const struct weft_json_node *weft_json_read_get(const struct weft_json_reader *r,
						const struct weft_json_node *o, const char *key);

/*
 * An integer given as a number or as a decimal string, as proto3 JSON writes
 * 64-bit values: 0, or -EINVAL when `v` is neither or out of range.
 */
int weft_json_read_u64(const struct weft_json_node *v, uint64_t *out);
int weft_json_read_i64(const struct weft_json_node *v, int64_t *out);
/* A number, or a string holding one ("NaN", "Infinity" and "-Infinity" too). */
int weft_json_read_double(const struct weft_json_node *v, double *out);

/* A string member's text, or `dflt` when absent or not a string. */
const char *weft_json_read_str(const struct weft_json_reader *r, const struct weft_json_node *o,
			       const char *key, const char *dflt);

/*
 * The end of the plain bytes at p (before end): the first quote, backslash or
 * control byte, where a JSON string's plain run ends both for a reader and
 * for a writer that escapes. Eight bytes at a time where there are eight: a
 * byte b is found by the classic zero-byte test on b ^ c (for '"' and '\\')
 * and on b itself after subtracting 0x20 (for bytes below 0x20, high bit
 * clear).
 */
const char *weft_json_plain_run(const char *p, const char *end);

#endif
