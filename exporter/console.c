/*
 * The `console` output (readable spans and metrics, normally on stderr) and
 * the `none` output (accepts everything, keeps nothing).
 *
 * One line per span and one per metric point, all lines of one export built
 * in memory and written together. For the program's stderr
 * (WEFT_CONSOLE_STDERR) the lines go to weft's own copy of the stderr the
 * program had when weft started (agent/fd.h): an owned descriptor the program
 * cannot close or replace, so a file the program later opens on descriptor 2
 * never receives them. Given another descriptor (tests), we check with fstat
 * before each write that it still names the file it named at the start.
 */
#include <errno.h>
#include <inttypes.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/alloc.h"
#include "agent/fd.h"
#include "agent/log.h"
#include "exporter/json.h"
#include "exporter/sink.h"

#define CONSOLE_WRITE_TIMEOUT_MS 1000

struct console {
	struct weft_sink sink;
	int fd; /* -1: weft's copy of stderr, `handle` */
	int handle;
	dev_t dev;
	ino_t ino;
	struct weft_json buf;
};

/*
 * Text as is when it reads unambiguously (printable, no spaces, quotes, '=' or
 * ','), otherwise as a JSON string, which also makes control characters and
 * invalid UTF-8 harmless on a terminal.
 */
static void console_text(struct weft_json *b, const char *s)
{
	bool plain = s && s[0];

	for (const unsigned char *p = (const unsigned char *)s; plain && *p; p++)
		if (*p <= ' ' || *p >= 0x7f || *p == '"' || *p == '\\' || *p == '=' || *p == ',')
			plain = false;
	if (plain)
		weft_json_append(b, s, strlen(s));
	else
		weft_json_string(b, s);
}

static void console_hex(struct weft_json *b, const uint8_t *bytes, size_t n)
{
	static const char digits[] = "0123456789abcdef";
	char out[2 * 16];

	for (size_t i = 0; i < n && i < 16; i++) {
		out[2 * i] = digits[bytes[i] >> 4];
		out[2 * i + 1] = digits[bytes[i] & 15];
	}
	weft_json_append(b, out, 2 * (n < 16 ? n : 16));
}

static void console_double(struct weft_json *b, double v)
{
	char s[WEFT_JSON_DOUBLE_MAX];

	weft_json_append(b, s, weft_json_format_double(s, v));
}

/* key=value; strings quoted only when they must be, or always (`quote`). */
static void console_attr(struct weft_json *b, const struct weft_attr *a, bool quote)
{
	console_text(b, a->key);
	weft_json_append(b, "=", 1);
	switch (a->type) {
	case WEFT_VALUE_STRING:
		if (quote)
			weft_json_string(b, a->v.s);
		else
			console_text(b, a->v.s);
		break;
	case WEFT_VALUE_INT:
		weft_json_appendf(b, "%" PRId64, a->v.i);
		break;
	case WEFT_VALUE_DOUBLE:
		console_double(b, a->v.d);
		break;
	case WEFT_VALUE_BOOL:
		weft_json_appendf(b, "%s", a->v.b ? "true" : "false");
		break;
	case WEFT_VALUE_STRING_ARRAY:
		weft_json_append(b, "[", 1);
		for (size_t i = 0; i < a->v.strs.n; i++) {
			if (i)
				weft_json_append(b, ",", 1);
			if (quote)
				weft_json_string(b, a->v.strs.items[i]);
			else
				console_text(b, a->v.strs.items[i]);
		}
		weft_json_append(b, "]", 1);
		break;
	}
}

static const char *console_kind(enum weft_span_kind kind)
{
	switch (kind) {
	case WEFT_SPAN_KIND_SERVER:
		return "server";
	case WEFT_SPAN_KIND_CLIENT:
		return "client";
	case WEFT_SPAN_KIND_PRODUCER:
		return "producer";
	case WEFT_SPAN_KIND_CONSUMER:
		return "consumer";
	default:
		return NULL;
	}
}

/*
 * weft: span thread worker  trace=.. span=.. parent=.. 12.345ms  thread.id=123 ..
 */
static void console_span(struct weft_json *b, const struct weft_span *sp)
{
	uint64_t dur = sp->end_unix_nano > sp->start_unix_nano
			       ? sp->end_unix_nano - sp->start_unix_nano
			       : 0;
	const char *kind = console_kind(sp->kind);
	bool root = true;

	for (size_t i = 0; i < sizeof(sp->parent_span_id.b); i++)
		if (sp->parent_span_id.b[i])
			root = false;

	weft_json_append(b, "weft: span ", 11);
	if (sp->name)
		weft_json_append_escaped(b, sp->name, strlen(sp->name));
	weft_json_append(b, "  trace=", 8);
	console_hex(b, sp->trace_id.b, sizeof(sp->trace_id.b));
	weft_json_append(b, " span=", 6);
	console_hex(b, sp->span_id.b, sizeof(sp->span_id.b));
	if (!root) {
		weft_json_append(b, " parent=", 8);
		console_hex(b, sp->parent_span_id.b, sizeof(sp->parent_span_id.b));
	}
	weft_json_appendf(b, " %" PRIu64 ".%03" PRIu64 "ms ", dur / 1000000, dur / 1000 % 1000);
	if (kind)
		weft_json_appendf(b, " kind=%s", kind);
	for (size_t i = 0; i < sp->n_attrs; i++) {
		weft_json_append(b, " ", 1);
		console_attr(b, &sp->attrs[i], false);
	}
	if (sp->status == WEFT_STATUS_ERROR)
		weft_json_append(b, " status=ERROR", 13);
	else if (sp->status == WEFT_STATUS_OK)
		weft_json_append(b, " status=OK", 10);
	if (sp->status_message && sp->status_message[0]) {
		weft_json_append(b, " message=", 9);
		console_text(b, sp->status_message);
	}
	for (size_t i = 0; i < sp->n_events; i++) {
		weft_json_append(b, i ? "," : " events=", i ? 1 : 8);
		console_text(b, sp->events[i].name);
	}
	for (size_t i = 0; i < sp->n_links; i++) {
		weft_json_append(b, i ? "," : " links=", i ? 1 : 7);
		console_hex(b, sp->links[i].span_id.b, sizeof(sp->links[i].span_id.b));
	}
	/* Nothing followed the duration: drop the separator it left. */
	if (!weft_json_error(b) && b->buf[b->len - 1] == ' ')
		b->len--;
	weft_json_append(b, "\n", 1);
}

/*
 * weft: metric process.thread.count{} = 3
 * weft: metric weft.wait.duration{weft.wait.kind="mutex"} count=3 sum=0.01 min=0.001 max=0.008
 */
static void console_point(struct weft_json *b, const struct weft_metric *m,
			  const struct weft_point *p)
{
	weft_json_append(b, "weft: metric ", 13);
	if (m->name)
		weft_json_append_escaped(b, m->name, strlen(m->name));
	weft_json_append(b, "{", 1);
	for (size_t i = 0; i < p->n_attrs; i++) {
		if (i)
			weft_json_append(b, ",", 1);
		console_attr(b, &p->attrs[i], true);
	}
	weft_json_append(b, "}", 1);
	if (m->type == WEFT_METRIC_HISTOGRAM) {
		weft_json_appendf(b, " count=%" PRIu64 " sum=", p->count);
		console_double(b, p->sum);
		if (p->count) {
			weft_json_append(b, " min=", 5);
			console_double(b, p->min);
			weft_json_append(b, " max=", 5);
			console_double(b, p->max);
		}
	} else if (p->is_double) {
		weft_json_append(b, " = ", 3);
		console_double(b, p->as_double);
	} else {
		weft_json_appendf(b, " = %" PRId64, p->as_int);
	}
	weft_json_append(b, "\n", 1);
}

/* Writes the lines to weft's stderr, or to fd if it is still the one we were given. */
static int console_flush(struct console *c)
{
	struct stat st;
	int r = weft_json_error(&c->buf), fd;

	if (r == 0 && c->fd < 0) {
		fd = c->handle == WEFT_CONSOLE_STDERR ? STDERR_FILENO : weft_fd_use(c->handle);
		r = fd < 0 ? fd : weft_json_write_fd(&c->buf, fd, CONSOLE_WRITE_TIMEOUT_MS);
		if (fd >= 0 && c->handle != WEFT_CONSOLE_STDERR)
			weft_fd_unuse(c->handle);
	} else if (r == 0) {
		if (fstat(c->fd, &st) < 0 || st.st_dev != c->dev || st.st_ino != c->ino)
			r = -EBADF;
		else
			r = weft_json_write_fd(&c->buf, c->fd, CONSOLE_WRITE_TIMEOUT_MS);
	}
	weft_json_reset(&c->buf);
	return r;
}

static int console_export_spans(struct weft_sink *sink, const struct weft_resource *res,
				const struct weft_span *spans, size_t n)
{
	struct console *c = sink->priv;

	(void)res;
	if (!n)
		return 0;
	weft_json_reset(&c->buf);
	for (size_t i = 0; i < n; i++)
		console_span(&c->buf, &spans[i]);
	return console_flush(c);
}

static int console_export_metrics(struct weft_sink *sink, const struct weft_resource *res,
				  const struct weft_metric *metrics, size_t n)
{
	struct console *c = sink->priv;

	(void)res;
	weft_json_reset(&c->buf);
	for (size_t i = 0; i < n; i++)
		for (size_t k = 0; k < metrics[i].n_points; k++)
			console_point(&c->buf, &metrics[i], &metrics[i].points[k]);
	if (!c->buf.len && !weft_json_error(&c->buf))
		return 0;
	return console_flush(c);
}

static void console_shutdown(struct weft_sink *sink)
{
	struct console *c = sink->priv;

	/* The descriptor is the program's, or weft's stderr copy: it stays open. */
	weft_json_free(&c->buf);
	weft_free(c);
}

struct weft_sink *weft_console_open(int fd)
{
	struct console *c;
	struct stat st;

	if (fd != WEFT_CONSOLE_STDERR && fstat(fd, &st) < 0) {
		const char *s = strerrordesc_np(errno);

		weft_warn("cannot write to fd %d: %s", fd, s ? s : "Unknown error");
		return NULL;
	}
	c = weft_zalloc(sizeof(*c));
	if (!c) {
		weft_warn("cannot write to fd %d: %s", fd, strerrordesc_np(ENOMEM));
		return NULL;
	}
	c->fd = fd;
	if (fd == WEFT_CONSOLE_STDERR) {
		/* weft's copy; before agent start took one (tests), descriptor 2 itself. */
		int h = weft_fd_stderr();

		c->handle = h == WEFT_FD_NOT_YET ? WEFT_CONSOLE_STDERR : h;
	} else {
		c->dev = st.st_dev;
		c->ino = st.st_ino;
	}
	weft_json_init(&c->buf);
	c->sink.name = "console";
	c->sink.export_spans = console_export_spans;
	c->sink.export_metrics = console_export_metrics;
	c->sink.shutdown = console_shutdown;
	c->sink.priv = c;
	return &c->sink;
}

static int none_export_spans(struct weft_sink *sink, const struct weft_resource *res,
			     const struct weft_span *spans, size_t n)
{
	(void)sink, (void)res, (void)spans, (void)n;
	return 0;
}

static int none_export_metrics(struct weft_sink *sink, const struct weft_resource *res,
			       const struct weft_metric *metrics, size_t n)
{
	(void)sink, (void)res, (void)metrics, (void)n;
	return 0;
}

/* Stateless, so one instance serves every caller and opening cannot fail. */
static struct weft_sink none_sink = {
	.name = "none",
	.export_spans = none_export_spans,
	.export_metrics = none_export_metrics,
};

struct weft_sink *weft_none_open(void)
{
	return &none_sink;
}
