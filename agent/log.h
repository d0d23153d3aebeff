/*
 * weft's own diagnostics: one `weft: ` line on stderr per message.
 *
 * Formats into a stack buffer and writes with write(2): no stdio lock, no
 * allocation, safe on any thread (including the exporter and a forked child).
 *
 * A message that shows a value taken from outside weft (an environment
 * variable, a path, a peer's reply) passes it through weft_log_escape first,
 * so that the value can neither end the line early and forge a second one,
 * nor drive the user's terminal, nor run on for kilobytes.
 */
#ifndef WEFT_AGENT_LOG_H
#define WEFT_AGENT_LOG_H

#include <stddef.h>

#include "agent/config.h"

/* The threshold; set once from the configuration. */
void weft_log_set_level(enum weft_log_level level);

/*
 * Writes "weft: " and the formatted message as one line. Control characters
 * that reach the formatted text anyway (a value not escaped) become '?', so
 * that one call is always exactly one line.
 */
void weft_log(enum weft_log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* A line that continues the last one (indented detail): no "weft: " in front. */
void weft_log_more(enum weft_log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#define weft_warn(...)  weft_log(WEFT_LOG_WARN, __VA_ARGS__)
#define weft_info(...)  weft_log(WEFT_LOG_INFO, __VA_ARGS__)
#define weft_debug(...) weft_log(WEFT_LOG_DEBUG, __VA_ARGS__)

/* How much of a value a message shows, in bytes of the value. */
#define WEFT_LOG_VALUE_MAX 64

/* A buffer that always holds a whole escaped value: 4 bytes per byte, "...", NUL. */
#define WEFT_LOG_ESCAPED_SIZE (4 * WEFT_LOG_VALUE_MAX + 4)

/*
 * Copies the value s[0..n) into out (outlen bytes, always terminated) so it
 * can be shown inside a message line: printable ASCII and well-formed UTF-8
 * of printable characters as they are; a backslash as `\\`; newline, tab and
 * carriage return as `\n`, `\t`, `\r`; every other byte (controls, DEL,
 * malformed UTF-8, the C1 controls, Unicode line separators and bidi
 * overrides) as `\xNN`. At most WEFT_LOG_VALUE_MAX bytes of the value are
 * shown, never half a character or half an escape; a value cut short ends
 * with "...". Returns out.
 */
const char *weft_log_escape(const char *s, size_t n, char *out, size_t outlen);

#endif
