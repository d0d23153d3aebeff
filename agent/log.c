#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "agent/log.h"

static enum weft_log_level log_level = WEFT_LOG_WARN;

void weft_log_set_level(enum weft_log_level level)
{
	log_level = level;
}

void weft_log(enum weft_log_level level, const char *fmt, ...)
{
	char buf[1024];
	int saved = errno;
	va_list ap;
	size_t n;

	if (level > log_level)
		return;
	memcpy(buf, "weft: ", 6);
	va_start(ap, fmt);
	vsnprintf(buf + 6, sizeof(buf) - 7, fmt, ap);
	va_end(ap);
	n = strlen(buf);
	buf[n++] = '\n';
	for (size_t off = 0; off < n;) {
		ssize_t w = write(STDERR_FILENO, buf + off, n - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			break;
		off += (size_t)w;
	}
	errno = saved;
}
