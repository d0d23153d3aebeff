/*
 * The report from files (exporter/report_read.h): one pass over every file,
 * keeping per process (by pid and service.instance.id: two containers' pid
 * 1 are two processes) the earliest time seen, the file it came from
 * and the text of its `weft.report` event; then the texts, by start.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "exporter/otlp_read.h"
#include "exporter/report_read.h"

struct proc {
	int64_t pid;
	uint64_t start;
	const char *file;
	char *service;
	char *instance;
	char *text; /* the report, or NULL */
};

struct reading {
	struct proc *procs;
	size_t n, cap;
	const char *file;
	const struct weft_otlp_reader *reader;
	bool file_seen; /* the file being read named a process */
	int err;
};

static struct proc *proc_of(struct reading *x, const struct weft_otlp_resource *res)
{
	struct proc *p;

	x->file_seen = true;
	/* Processes are few: a linear search. */
	for (size_t i = 0; i < x->n; i++)
		if (x->procs[i].pid == res->pid && strcmp(x->procs[i].instance, res->instance) == 0)
			return &x->procs[i];
	if (x->n == x->cap) {
		size_t cap = x->cap ? 2 * x->cap : 16;

		p = realloc(x->procs, cap * sizeof(*p));
		if (!p)
			return NULL;
		x->procs = p;
		x->cap = cap;
	}
	p = &x->procs[x->n++];
	*p = (struct proc){ .pid = res->pid,
			    .start = UINT64_MAX,
			    .file = x->file,
			    .service = strdup(res->service),
			    .instance = strdup(res->instance) };
	return p->service && p->instance ? p : NULL;
}

/* The text of the process span's event weft.report, or NULL. */
static const char *report_text(const struct weft_json_reader *j, const struct weft_otlp_span *s)
{
	for (const struct weft_json_node *e = weft_json_read_first(j, s->events); e;
	     e = weft_json_read_next(j, e))
		if (strcmp(weft_json_read_str(j, e, "name", ""), "weft.report") == 0)
			return weft_otlp_read_attr_str(j, weft_json_read_get(j, e, "attributes"),
						       "weft.report.text");
	return NULL;
}

static void visit_span(void *arg, const struct weft_otlp_resource *res,
		       const struct weft_otlp_span *s)
{
	struct reading *x = arg;
	struct proc *p = proc_of(x, res);
	const char *text;

	if (!p) {
		x->err = -ENOMEM;
		return;
	}
	if (s->start_ns && s->start_ns < p->start)
		p->start = s->start_ns;
	if (strcmp(s->name, "process") != 0 || p->text)
		return;
	text = report_text(weft_otlp_read_json(x->reader), s);
	if (text && !(p->text = strdup(text)))
		x->err = -ENOMEM;
}

static void visit_metric(void *arg, const struct weft_otlp_resource *res, const char *name,
			 const struct weft_json_node *points)
{
	struct reading *x = arg;
	const struct weft_json_reader *j = weft_otlp_read_json(x->reader);
	struct proc *p = proc_of(x, res);

	if (!p) {
		x->err = -ENOMEM;
		return;
	}
	/* A cumulative sum's start is the process's start. */
	for (const struct weft_json_node *pt = weft_json_read_first(j, points); pt;
	     pt = weft_json_read_next(j, pt)) {
		uint64_t start = 0;

		weft_json_read_u64(weft_json_read_get(j, pt, "startTimeUnixNano"), &start);
		if (start && start < p->start)
			p->start = start;
	}
}

static int by_start(const void *a, const void *b)
{
	const struct proc *x = a, *y = b;

	if (x->start != y->start)
		return x->start < y->start ? -1 : 1;
	return (x->pid > y->pid) - (x->pid < y->pid);
}

/* Reads one file; one line on standard output when it names no process at all. */
static int read_file(struct reading *x, const char *path)
{
	static const struct weft_otlp_visitor v = { .span = visit_span, .metric = visit_metric };
	struct weft_otlp_reader r;
	int rc = weft_otlp_read_open(&r, path);

	if (rc < 0) {
		fprintf(stderr, "weft report: %s: %s\n", path, strerror(-rc));
		return rc;
	}
	x->file = path;
	x->file_seen = false;
	x->reader = &r;
	while (!x->err && (rc = weft_otlp_read_next(&r, &v, x)) > 0)
		;
	if (rc == -EINVAL)
		fprintf(stderr,
			"weft report: %s: line %llu is cut short or not OTLP JSON (%s): read the "
			"lines before it\n",
			path, (unsigned long long)r.line, r.why ? r.why : "?");
	else if (rc < 0)
		fprintf(stderr, "weft report: %s: %s\n", path, strerror(-rc));
	weft_otlp_read_close(&r);
	x->reader = NULL;
	if (!x->err && !x->file_seen)
		printf("weft report: %s: no process in it: empty, or cut short before its first "
		       "complete line\n",
		       path);
	return x->err ? x->err : rc == -EINVAL ? 0 : rc;
}

int weft_report_read_main(int argc, char **argv)
{
	struct reading x = { 0 };
	size_t found = 0;
	int files = 0, rc = 0;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
			printf("Usage: weft report FILE.jsonl...\n"
			       "Prints the end-of-run report of each process in weft's files, as "
			       "WEFT_REPORT printed it.\n");
			return 0;
		}
		if (argv[i][0] == '-' && argv[i][1]) {
			fprintf(stderr, "weft report: unknown option %s\n", argv[i]);
			return 2;
		}
		files++;
		if (read_file(&x, argv[i]) == -ENOMEM) {
			fprintf(stderr, "weft report: out of memory\n");
			return 1;
		}
	}
	if (!files) {
		fprintf(stderr, "Usage: weft report FILE.jsonl...\n");
		return 2;
	}
	qsort(x.procs, x.n, sizeof(*x.procs), by_start);
	for (size_t i = 0; i < x.n; i++) {
		const struct proc *p = &x.procs[i];

		if (p->text) {
			fputs(p->text, stdout);
			found++;
		} else {
			printf("weft report: pid %lld (%s): no report in %s: the process did not "
			       "finish its export (killed, e.g. by SIGKILL) or its trace was not "
			       "sampled\n",
			       (long long)p->pid, p->service, p->file);
		}
	}
	for (size_t i = 0; i < x.n; i++) {
		free(x.procs[i].service);
		free(x.procs[i].instance);
		free(x.procs[i].text);
	}
	free(x.procs);
	if (fflush(stdout) != 0)
		rc = 1;
	if (!found)
		fprintf(stderr, "weft report: no report found in %d file%s\n", files,
			files == 1 ? "" : "s");
	return rc || !found ? 1 : 0;
}
