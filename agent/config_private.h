/*
 * The configuration's inner parts, shared by its three files and by nothing
 * else:
 *
 *	config.c        the table of options and the loader that walks it,
 *	config_parse.c  text to values: numbers, durations, sizes, keywords,
 *	config_render.c values back to text, for warnings, and path patterns.
 *
 * A row of the table says everything about one variable; the parser and the
 * renderer are driven by the row's kind and never name a variable.
 */
#ifndef WEFT_AGENT_CONFIG_PRIVATE_H
#define WEFT_AGENT_CONFIG_PRIVATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agent/config.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

#define NSEC_PER_USEC UINT64_C(1000)
#define NSEC_PER_MSEC UINT64_C(1000000)
#define NSEC_PER_SEC  UINT64_C(1000000000)
#define NSEC_PER_MIN  (60 * NSEC_PER_SEC)
#define NSEC_PER_HOUR (3600 * NSEC_PER_SEC)

#define RING_MIN            2u
#define RING_MAX            (1u << 20)
#define STACK_DEFAULT_DEPTH 16u
#define STACK_MAX_DEPTH     128u

/* A piece of a string that we may not modify. */
struct slice {
	const char *p;
	size_t n;
};

/* A name accepted by an enumeration or a list, and what it stands for. */
struct keyword {
	const char *name;
	unsigned value;
};

enum kind {
	K_BOOL,     /* bool */
	K_STR,      /* char[], stored verbatim */
	K_PAIRS,    /* char[]: key=value items; items that are not are dropped */
	K_REPORT,   /* char[]: off, stderr or a path */
	K_DURATION, /* uint64_t nanoseconds within [min, max], clamped */
	K_SIZE,     /* uint64_t bytes: a number with an optional unit (KB, MiB...) */
	K_UINT,     /* uint32_t within [min, max] */
	K_RING,     /* uint32_t power of two within [min, max], rounded up */
	K_STACKS,   /* uint32_t depth: off, on or a number */
	K_RATIO,    /* double in [0, 1] */
	K_ENUM,     /* one keyword */
	K_LIST,     /* comma list of keywords, or'ed together */
	K_PROTOCOL, /* nothing stored: only http/protobuf is accepted */
	K_HOST,     /* char[]: a host name or address to listen on, brackets removed */
};

struct row {
	const char *name;
	enum kind kind;
	size_t off, size;            /* Of the field; size 0 means there is none. */
	const char *def;             /* As the user would write it; NULL: computed. */
	uint64_t min, max;           /* Bounds of K_UINT, K_RING, K_SIZE and K_DURATION. */
	const struct keyword *words; /* K_ENUM and K_LIST, ending with a NULL name. */
	const char *what;            /* K_LIST: what one item is called in a warning. */
	bool secret;                 /* Never print the value. */
};

/* Duration units, smallest first. */
struct weft_config_unit {
	const char *suffix;
	uint64_t ns;
};
extern const struct weft_config_unit weft_config_units[];
extern const size_t weft_config_n_units;

/* Strings: ASCII only, whatever the locale. */
bool weft_config_is_space(char c);
bool weft_config_is_digit(char c);
struct slice weft_config_trim(const char *p, size_t n);
/* ASCII case-insensitive equality with a NUL-terminated word. */
bool weft_config_eq(struct slice s, const char *word);

/* The value s, escaped and cut for a warning (weft_log_escape). */
void weft_config_show(struct slice s, char *buf, size_t len);

/* Integer fields are stored and read by their size (1, 2, 4 or 8 bytes). */
void weft_config_store_uint(void *field, size_t size, uint64_t v);
uint64_t weft_config_load_uint(const void *field, size_t size);

/*
 * Parses raw into the row's field. Returns 0 when stored as given, 1 when
 * stored with an adjustment (a bound, a rounding, items dropped) and -EINVAL
 * when nothing was stored; in the last two cases why says what happened.
 */
int weft_config_parse_row(const struct row *r, void *field, const char *raw, char *why,
			  size_t wlen);

/* Writes the field's value the way a user would write it. */
void weft_config_render(const struct row *r, const void *field, char *buf, size_t len);
void weft_config_render_duration(uint64_t ns, char *buf, size_t len);

#endif
