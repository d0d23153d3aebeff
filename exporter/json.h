/*
 * A small JSON writer into a growable byte buffer, for the file and console
 * outputs.
 *
 * The writer places commas itself: a caller opens containers, writes keys and
 * values in order, and closes them. Strings are escaped (", \, control
 * characters as \u00XX) and bytes that are not valid UTF-8 become \ufffd, so
 * whatever a program names its threads, the line stays valid JSON. Doubles are
 * written in the shortest form that reads back to the same value, whatever
 * the program's LC_NUMERIC says. Memory comes from agent/alloc.h only.
 *
 * Errors are sticky: the first failure (out of memory, nesting too deep) is
 * kept in `err` and every later call does nothing, so a caller checks once,
 * at the end, with weft_json_error().
 */
#ifndef WEFT_EXPORTER_JSON_H
#define WEFT_EXPORTER_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

/* Containers nest at most this deep. */
#define WEFT_JSON_MAX_DEPTH 63

/* Enough for any uint64_t in decimal, with its NUL. */
#define WEFT_JSON_U64_MAX 21

/* Enough for any double weft_json_format_double() writes, with its NUL. */
#define WEFT_JSON_DOUBLE_MAX 32

struct weft_json {
	char *buf; /* not NUL-terminated; len bytes are valid */
	size_t len;
	size_t cap;
	int err;        /* 0, or the first failure as a negative errno */
	unsigned depth; /* containers open */
	uint64_t more;  /* bit d: the container at depth d already has a member */
	bool after_key; /* a key was written and its value has not been */
	/*
	 * Under AddressSanitizer, where the last room asked for ends: a cursor
	 * handed to weft_json_done past it is a writer that wrote more than it
	 * asked for room for, and aborts the test that did it.
	 */
	char *room_end;
};

void weft_json_init(struct weft_json *j);
/* Empties the buffer (keeping its memory) and clears the error. */
void weft_json_reset(struct weft_json *j);
/* Releases the memory; the writer may be initialised again. */
void weft_json_free(struct weft_json *j);

static inline int weft_json_error(const struct weft_json *j)
{
	return j->err;
}

/* Structure. */
void weft_json_begin_object(struct weft_json *j);
void weft_json_end_object(struct weft_json *j);
void weft_json_begin_array(struct weft_json *j);
void weft_json_end_array(struct weft_json *j);
void weft_json_key(struct weft_json *j, const char *key);
/*
 * A key given whole, quotes and colon included (`"name":`), that needs no
 * escaping: one reserve, one copy. weft_json_key_lit(j, "name") builds it
 * from a string literal at compile time.
 */
void weft_json_raw_key(struct weft_json *j, const char *quoted_key, size_t n);
#define weft_json_key_lit(j, lit) weft_json_raw_key((j), "\"" lit "\":", sizeof(lit) + 2)

/* Values. A NULL string is written as "". */
void weft_json_string(struct weft_json *j, const char *s);
void weft_json_string_n(struct weft_json *j, const char *s, size_t n);
void weft_json_bool(struct weft_json *j, bool v);
void weft_json_u64(struct weft_json *j, uint64_t v);        /* a number: 42 */
void weft_json_u64_string(struct weft_json *j, uint64_t v); /* a string: "42" */
void weft_json_i64_string(struct weft_json *j, int64_t v);  /* a string: "-42" */
/* A number, or "NaN", "Infinity", "-Infinity" as proto3 JSON writes them. */
void weft_json_double(struct weft_json *j, double v);
/* Lowercase hex of n bytes, as a string. */
void weft_json_hex(struct weft_json *j, const uint8_t *bytes, size_t n);

/*
 * Raw bytes outside the JSON grammar: a newline between records, or the
 * console's plain text. They do not count as a value for comma placement.
 */
void weft_json_append(struct weft_json *j, const char *s, size_t n);
/*
 * Bytes that are already JSON, written as one value (a comma before them when
 * one is due): a caller's pre-formed fragment such as `{"key":"`, continued
 * with weft_json_append and weft_json_append_escaped. The caller keeps the
 * fragment's brackets balanced; the writer does not see inside it.
 */
void weft_json_raw(struct weft_json *j, const char *s, size_t n);
#define weft_json_raw_lit(j, lit)    weft_json_raw((j), lit, sizeof(lit) - 1)
#define weft_json_append_lit(j, lit) weft_json_append((j), lit, sizeof(lit) - 1)
void weft_json_appendf(struct weft_json *j, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* The string's contents, escaped as in weft_json_string, without the quotes. */
void weft_json_append_escaped(struct weft_json *j, const char *s, size_t n);

/*
 * Writing at a cursor, for a caller that writes a whole object's structure
 * itself (a span, an attribute list): it asks for room once for a run of
 * pieces, writes them with the weft_json_put_* helpers, and ends the run with
 * weft_json_done. The writer sees none of it: the caller places its own
 * commas and keeps brackets balanced. `escaped` bytes of input to be escaped
 * (each becomes at most six) and `fixed` more; NULL after an error (sticky,
 * as always).
 */
char *weft_json_room_grow(struct weft_json *j, size_t escaped, size_t fixed);
static inline char *weft_json_room(struct weft_json *j, size_t escaped, size_t fixed)
{
	size_t left = j->cap - j->len;

	/*
	 * Inline: the room is nearly always there (the bounds keep 6 * escaped
	 * from wrapping; `<`, so that a writer without a buffer takes the slow
	 * path even for no room at all, and gets one).
	 */
	if (__builtin_expect(!j->err && escaped <= left / 6 && fixed < left - 6 * escaped, 1)) {
#ifdef __SANITIZE_ADDRESS__
		j->room_end = j->buf + j->len + 6 * escaped + fixed;
#endif
		return j->buf + j->len;
	}
	return weft_json_room_grow(j, escaped, fixed);
}
/* The same, for a value or member: the comma before it, when one is due, is written. */
char *weft_json_member_room(struct weft_json *j, size_t escaped, size_t fixed);
static inline void weft_json_done(struct weft_json *j, char *o)
{
#ifdef __SANITIZE_ADDRESS__
	if (o > j->room_end)
		__builtin_trap();
#endif
	j->len = (size_t)(o - j->buf);
}
/* s escaped, as weft_json_string writes it without its quotes (6 * n bytes at most). */
char *weft_json_put_escaped(char *o, const char *s, size_t n);
/*
 * n bytes as lowercase hex (2 * n). Inline: ids are 8 or 16 bytes, and go
 * eight at a time — with SSE2, the nibbles interleaved in one register and
 * made digits together; else two digits at a time from a table.
 */
extern const char weft_json_hex_pairs[513];
static inline char *weft_json_put_hex(char *o, const uint8_t *bytes, size_t n)
{
	size_t i = 0;

#ifdef __SSE2__
	for (; i + 8 <= n; i += 8, o += 16) {
		const __m128i low4 = _mm_set1_epi8(0x0f);
		__m128i b = _mm_loadl_epi64((const __m128i *)(const void *)(bytes + i));
		__m128i d = _mm_unpacklo_epi8(_mm_and_si128(_mm_srli_epi16(b, 4), low4),
					      _mm_and_si128(b, low4));
		/* '0' + d, and 'a' - '0' - 10 more where d > 9. */
		__m128i letters = _mm_and_si128(_mm_cmpgt_epi8(d, _mm_set1_epi8(9)),
						_mm_set1_epi8('a' - '0' - 10));

		_mm_storeu_si128((__m128i *)(void *)o,
				 _mm_add_epi8(_mm_add_epi8(d, _mm_set1_epi8('0')), letters));
	}
#endif
	for (; i < n; i++, o += 2)
		memcpy(o, weft_json_hex_pairs + 2 * bytes[i], 2);
	return o;
}
/* v in decimal (WEFT_JSON_U64_MAX - 1 bytes at most). */
char *weft_json_put_u64(char *o, uint64_t v);
/* As weft_json_double writes v (WEFT_JSON_DOUBLE_MAX + 1 bytes at most). */
char *weft_json_put_double(char *o, double v);
#define WEFT_JSON_PUT_LIT(o, lit) ((char *)memcpy((o), lit, sizeof(lit) - 1) + sizeof(lit) - 1)

/*
 * Formats v in its shortest round-trip form with '.' as the decimal point
 * (non-finite values as NaN, Infinity, -Infinity); returns the length.
 */
size_t weft_json_format_double(char out[WEFT_JSON_DOUBLE_MAX], double v);
/* Formats v in decimal (NUL-terminated); returns the length. */
size_t weft_json_format_u64(char out[WEFT_JSON_U64_MAX], uint64_t v);

/*
 * Writes the whole buffer to fd with write(2), looping over partial writes
 * and EINTR. On a non-blocking descriptor that is full it waits with poll(2),
 * at most timeout_ms in all. Returns 0 or a negative errno.
 */
int weft_json_write_fd(const struct weft_json *j, int fd, int timeout_ms);

#endif
