/* Readable names for mangled symbols (demangle.h). */
#include <signal.h>
#include <stdbool.h>
#include <string.h>

#include "agent/alloc.h"
#include "agent/guard.h"
#include "exporter/demangle.h"

/* libiberty's cplus_demangle_v3_callback and rust_demangle_callback, renamed. */
typedef void (*iberty_sink)(const char *text, size_t n, void *opaque);
int weft_iberty_cplus(const char *mangled, int options, iberty_sink sink, void *opaque);
int weft_iberty_rust(const char *mangled, int options, iberty_sink sink, void *opaque);

/*
 * The allocator of the copy's other entry points, which weft never calls:
 * the private one, so that libweft.so imports none of the program's.
 */
void *weft_iberty_malloc(size_t n);
void *weft_iberty_realloc(void *p, size_t n);
void weft_iberty_free(void *p);

void *weft_iberty_malloc(size_t n)
{
	return weft_alloc(n);
}

void *weft_iberty_realloc(void *p, size_t n)
{
	return weft_realloc(p, n);
}

void weft_iberty_free(void *p)
{
	weft_free(p);
}

/* libiberty's DMGL_NO_OPTS: no parameters, no return type, no Rust hash. */
#define NAME_ONLY 0

struct sink {
	char *out;
	size_t size, n;
	bool over; /* the readable name did not fit */
};

static void put(const char *text, size_t n, void *opaque)
{
	struct sink *s = opaque;

	if (s->over || n >= s->size - s->n) {
		s->over = true;
		return;
	}
	memcpy(s->out + s->n, text, n);
	s->n += n;
	s->out[s->n] = '\0';
}

/* The longest mangled name this thread's stack can demangle (0: none). */
static size_t stack_allows(void)
{
	stack_t ss;

	if (weft_tls.own_table)
		return WEFT_DEMANGLE_MAX; /* weft's own threads */
	if (sigaltstack(NULL, &ss) != 0 || (ss.ss_flags & SS_ONSTACK))
		return 0;
	return WEFT_DEMANGLE_MAX_PROGRAM;
}

size_t weft_demangle(const char *name, char *out, size_t size)
{
	struct sink s = { out, size, 0, false };
	size_t len;

	if (!name || name[0] != '_' || (name[1] != 'Z' && name[1] != 'R') || size == 0)
		return 0;
	len = strlen(name);
	if (len > stack_allows())
		return 0;
	out[0] = '\0';
	/* Rust's legacy names are C++ names with a hash: Rust's demangler first. */
	if (!weft_iberty_rust(name, NAME_ONLY, put, &s)) {
		s = (struct sink){ out, size, 0, false };
		out[0] = '\0';
		if (!weft_iberty_cplus(name, NAME_ONLY, put, &s))
			return 0;
	}
	return s.over ? 0 : s.n;
}
