/*
 * weft's own diagnostics: one `weft: ` line on stderr per message.
 *
 * Formats into a stack buffer and writes with write(2): no stdio lock, no
 * allocation, safe on any thread (including the exporter and a forked child).
 */
#ifndef WEFT_AGENT_LOG_H
#define WEFT_AGENT_LOG_H

#include "agent/config.h"

/* The threshold; set once from the configuration. */
void weft_log_set_level(enum weft_log_level level);

void weft_log(enum weft_log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#define weft_warn(...) weft_log(WEFT_LOG_WARN, __VA_ARGS__)
#define weft_info(...) weft_log(WEFT_LOG_INFO, __VA_ARGS__)
#define weft_debug(...) weft_log(WEFT_LOG_DEBUG, __VA_ARGS__)

#endif
