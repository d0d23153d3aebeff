#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "agent/fd.h"
#include "agent/log.h"

static enum weft_log_level log_level = WEFT_LOG_WARN;

void weft_log_set_level(enum weft_log_level level)
{
	log_level = level;
}

void weft_log(enum weft_log_level level, const char *fmt, ...)
{
	char buf[1024];
	int saved = errno, h, fd;
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
	/*
	 * To weft's copy of the stderr the program had when weft started, not to
	 * whatever a later open put at descriptor 2; before agent start took the
	 * copy, to descriptor 2; when there was no stderr at start, nowhere.
	 */
	h = weft_fd_stderr();
	fd = h == WEFT_FD_NOT_YET ? STDERR_FILENO : weft_fd_use(h);
	for (size_t off = 0; fd >= 0 && off < n;) {
		ssize_t w = write(fd, buf + off, n - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			break;
		off += (size_t)w;
	}
	if (fd >= 0 && h != WEFT_FD_NOT_YET)
		weft_fd_unuse(h);
	errno = saved;
}
