/*
 * Diagnostics on stderr and the escaping of values shown in them.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
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

/* One line, `prefix` in front, to weft's stderr; control characters shown as '?'. */
static void log_line(const char *prefix, const char *fmt, va_list ap)
{
	char buf[1024];
	int saved = errno, h, fd;
	size_t n, start = strlen(prefix);

	memcpy(buf, prefix, start);
	vsnprintf(buf + start, sizeof(buf) - start - 1, fmt, ap);
	n = strlen(buf);
	for (size_t i = start; i < n; i++)
		if ((unsigned char)buf[i] < 0x20 || buf[i] == 0x7f)
			buf[i] = '?';
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

void weft_log(enum weft_log_level level, const char *fmt, ...)
{
	va_list ap;

	if (level > log_level)
		return;
	va_start(ap, fmt);
	log_line("weft: ", fmt, ap);
	va_end(ap);
}

void weft_log_more(enum weft_log_level level, const char *fmt, ...)
{
	va_list ap;

	if (level > log_level)
		return;
	va_start(ap, fmt);
	log_line("", fmt, ap);
	va_end(ap);
}

/*
 * The length of the well-formed UTF-8 sequence at s[0..n) (2 to 4), or 0 if
 * there is none: no overlong forms, no surrogates, nothing past U+10FFFF.
 * *cp receives the code point.
 */
static size_t utf8_len(const unsigned char *s, size_t n, uint32_t *cp)
{
	unsigned char c = s[0], lo = 0x80, hi = 0xbf;
	size_t len;

	if (c >= 0xc2 && c <= 0xdf) {
		len = 2;
		*cp = c & 0x1f;
	} else if (c >= 0xe0 && c <= 0xef) {
		len = 3;
		*cp = c & 0x0f;
		lo = c == 0xe0 ? 0xa0 : 0x80;
		hi = c == 0xed ? 0x9f : 0xbf;
	} else if (c >= 0xf0 && c <= 0xf4) {
		len = 4;
		*cp = c & 0x07;
		lo = c == 0xf0 ? 0x90 : 0x80;
		hi = c == 0xf4 ? 0x8f : 0xbf;
	} else {
		return 0;
	}
	if (n < len || s[1] < lo || s[1] > hi)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if (s[i] < 0x80 || s[i] > 0xbf)
			return 0;
		*cp = *cp << 6 | (s[i] & 0x3f);
	}
	return len;
}

/* Characters that are well-formed but move the cursor or reorder text. */
static bool invisible(uint32_t cp)
{
	return (cp >= 0x80 && cp <= 0x9f) || cp == 0x200e || cp == 0x200f ||
	       (cp >= 0x2028 && cp <= 0x202e) || (cp >= 0x2066 && cp <= 0x2069);
}

/*
 * Writes the escaped form of the character at s[0..n) into tok (at least 16
 * bytes); returns its length and sets *used to the bytes of s it stands for.
 */
static size_t escape_one(const unsigned char *s, size_t n, char *tok, size_t *used)
{
	static const char hex[] = "0123456789abcdef";
	unsigned char c = s[0];
	uint32_t cp;
	size_t len;

	*used = 1;
	if (c >= 0x20 && c < 0x7f && c != '\\') {
		tok[0] = (char)c;
		return 1;
	}
	if (c == '\\' || c == '\n' || c == '\t' || c == '\r') {
		tok[0] = '\\';
		tok[1] = c == '\\' ? '\\' : c == '\n' ? 'n' : c == '\t' ? 't' : 'r';
		return 2;
	}
	len = c >= 0x80 ? utf8_len(s, n, &cp) : 0;
	if (len && !invisible(cp)) {
		memcpy(tok, s, len);
		*used = len;
		return len;
	}
	tok[0] = '\\';
	tok[1] = 'x';
	tok[2] = hex[c >> 4];
	tok[3] = hex[c & 15];
	return 4;
}

const char *weft_log_escape(const char *s, size_t n, char *out, size_t outlen)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t i = 0, o = 0, need = 0, keep = 1, used, len;
	char tok[16];

	if (!outlen)
		return out;
	/* Room for "..." is kept only if the value will not be shown whole. */
	while (i < n && i < WEFT_LOG_VALUE_MAX) {
		len = escape_one(u + i, n - i, tok, &used);
		if (i + used > WEFT_LOG_VALUE_MAX)
			break;
		need += len;
		i += used;
	}
	if (i < n || need + 1 > outlen)
		keep = 4;
	for (i = 0; i < n; i += used) {
		len = escape_one(u + i, n - i, tok, &used);
		if (i + used > WEFT_LOG_VALUE_MAX || o + len + keep > outlen)
			break;
		memcpy(out + o, tok, len);
		o += len;
	}
	if (i < n && o + 4 <= outlen) {
		memcpy(out + o, "...", 3);
		o += 3;
	}
	out[o] = '\0';
	return out;
}
