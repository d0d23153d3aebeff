/*
 * snprintf without libc's printf, for the texts weft writes as a process
 * ends: a short process (or a forked child that exits at once) would
 * otherwise run libc's printf from cold pages for a few names and numbers,
 * about 20,000 instructions and six page faults of its exit.
 *
 * The conversions weft's texts use are done here: %s %c %d %i %u %x %X %%,
 * the flags '-' and '0', a width and (for %s) a precision, each as digits
 * or '*', and the length modifiers hh, h, l, ll, z, j and t. A format with
 * anything else (%f, %g, %p, %n, a '+', ' ' or '#' flag, an integer
 * precision, a positional argument) is left to vsnprintf whole, so the
 * result is always what vsnprintf gives.
 */
#ifndef WEFT_AGENT_FORMAT_H
#define WEFT_AGENT_FORMAT_H

#include <stdarg.h>
#include <stddef.h>

/* As vsnprintf: writes at most size bytes (terminated if size > 0); returns the full length. */
int weft_vformat(char *out, size_t size, const char *fmt, va_list ap);

/* As snprintf. */
__attribute__((format(printf, 3, 4))) int weft_format(char *out, size_t size, const char *fmt, ...);

/*
 * s copied into out[size] (size > 0), cut to fit and terminated, as
 * snprintf(out, size, "%s", s) does; NULL gives "".
 */
void weft_copy(char *out, size_t size, const char *s);

#endif
