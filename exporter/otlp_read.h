/*
 * Reading weft's files back: OTLP JSON Lines (exporter/jsonl.c writes them),
 * one request per line, for the helper executable weft-read (`weft timeline`,
 * `weft report`).
 *
 * A file is read through a buffer one line at a time; each line is parsed
 * (exporter/json_read.h) and walked, and a visitor is called for every span
 * and every metric it holds, with the resource (pid, service name) they came
 * from. Nothing of a line outlives its visit: memory is the largest line and
 * its parse tree. A line that is not a complete request — the last one of a
 * program that was killed while writing — ends the file's reading: the
 * caller is told which line it was, and what came before it stands.
 */
#ifndef WEFT_EXPORTER_OTLP_READ_H
#define WEFT_EXPORTER_OTLP_READ_H

#include <stdbool.h>
#include <stdint.h>

#include "exporter/json_read.h"

struct weft_otlp_resource {
	int64_t pid; /* process.pid; 0 when absent */
	const char *service;
	const char *instance; /* service.instance.id: one process, whatever its pid ("" if none) */
};

struct weft_otlp_span {
	uint64_t span_id, parent_id; /* 0: none */
	const char *name;
	int kind;
	uint64_t start_ns, end_ns; /* Unix time */
	/* JSON arrays, or NULL: the span's attributes, links and events as written. */
	const struct weft_json_node *attrs, *links, *events;
};

struct weft_otlp_visitor {
	void (*span)(void *arg, const struct weft_otlp_resource *res,
		     const struct weft_otlp_span *s);
	/* `points`: the metric's dataPoints array (sum or gauge; not called for histograms). */
	void (*metric)(void *arg, const struct weft_otlp_resource *res, const char *name,
		       const struct weft_json_node *points);
};

struct weft_otlp_reader {
	const char *path;
	int fd;
	char *buf;
	size_t cap, start, len; /* the unread bytes: buf[start, start + len) */
	bool eof;
	uint64_t line;   /* the number of the line last read (1 is the first) */
	const char *why; /* when a line was refused: what was wrong with it */
	/*
	 * NULL, or a NULL-terminated list of strings: only lines that begin with
	 * one of them are parsed and visited (a quick look for a few lines of a
	 * large file); a line left out is not checked.
	 */
	const char *const *only;
	struct weft_json_reader json;
};

/* 0 or -errno (the file cannot be opened). */
int weft_otlp_read_open(struct weft_otlp_reader *r, const char *path);
void weft_otlp_read_close(struct weft_otlp_reader *r);

/*
 * Reads the next line and visits what it holds. 1: a line was read (empty
 * lines are skipped); 0: the end of the file; -EINVAL: line r->line is not a
 * complete request (r->why says why) and nothing of it was visited; another
 * -errno: the file could not be read.
 */
int weft_otlp_read_next(struct weft_otlp_reader *r, const struct weft_otlp_visitor *v, void *arg);

/* The parse tree of the line being visited: for the helpers below. */
static inline const struct weft_json_reader *weft_otlp_read_json(const struct weft_otlp_reader *r)
{
	return &r->json;
}

/* The AnyValue of attribute `key` in a KeyValue array, or NULL. */
const struct weft_json_node *weft_otlp_read_attr(const struct weft_json_reader *j,
						 const struct weft_json_node *attrs,
						 const char *key);
/* An attribute's string, or NULL when absent or not a string. */
const char *weft_otlp_read_attr_str(const struct weft_json_reader *j,
				    const struct weft_json_node *attrs, const char *key);
/* An attribute's integer: 0, or -ENOENT when absent or not an integer. */
int weft_otlp_read_attr_int(const struct weft_json_reader *j, const struct weft_json_node *attrs,
			    const char *key, int64_t *out);

/* A span id of 16 hex digits as a number: 0 for anything else. */
uint64_t weft_otlp_read_span_id(const char *hex);

#endif
