#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/agent.h"
#include "agent/fd.h"
#include "agent/log.h"
#include "exporter/json.h"
#include "exporter/outfile.h"
#include "exporter/outputs.h"
#include "exporter/report.h"
#include "exporter/resource.h"

/* The report is written at exit: a stalled stderr pipe may hold it this long. */
#define REPORT_WRITE_TIMEOUT_MS 500

void weft_report_thread_created(struct weft_report *r, const char *pool)
{
	r->threads_created++;
	for (size_t i = 0; i < r->n_pools; i++) {
		if (strcmp(r->pools[i].name, pool) == 0) {
			r->pools[i].count++;
			return;
		}
	}
	if (r->n_pools == WEFT_REPORT_POOLS) {
		r->other_pools++;
		return;
	}
	snprintf(r->pools[r->n_pools].name, sizeof(r->pools[0].name), "%s", pool);
	r->pools[r->n_pools++].count = 1;
}

void weft_report_wait(struct weft_report *r, const char *kind, const char *function, pid_t tid,
		      uint64_t duration_ns)
{
	size_t i;

	r->waits_total++;
	r->waited_ns += duration_ns;
	/* Insertion into the short list of the longest waits. */
	for (i = r->n_waits; i > 0 && r->waits[i - 1].duration_ns < duration_ns; i--)
		if (i < WEFT_REPORT_WAITS)
			r->waits[i] = r->waits[i - 1];
	if (i >= WEFT_REPORT_WAITS)
		return;
	snprintf(r->waits[i].kind, sizeof(r->waits[i].kind), "%s", kind);
	snprintf(r->waits[i].function, sizeof(r->waits[i].function), "%s", function);
	r->waits[i].tid = tid;
	r->waits[i].duration_ns = duration_ns;
	if (r->n_waits < WEFT_REPORT_WAITS)
		r->n_waits++;
}

static double ms(uint64_t ns)
{
	return (double)ns / 1e6;
}

/*
 * Opens the report file: `where` with %p and %n expanded, created 0600 with
 * O_EXCL, never through a symlink. An existing file of this user is appended
 * to — it may be another process's report (a forking program without %p),
 * which is never truncated — and one of another user is refused. A handle
 * (agent/fd.h) or -errno.
 */
static int report_open(const char *where, char *path, size_t len)
{
	const int flags = O_WRONLY | O_APPEND | O_NOFOLLOW | O_NONBLOCK;
	struct stat st;
	int h, fd;

	weft_outputs_expand_name(where, weft_resource_service_name(), getpid(), path, len);
	h = weft_fd_openat(AT_FDCWD, path, flags | O_CREAT | O_EXCL, 0600, 0);
	if (h != -EEXIST)
		return h;
	h = weft_fd_openat(AT_FDCWD, path, flags, 0, 0);
	if (h < 0)
		return h;
	fd = weft_fd_use(h);
	if (fd >= 0 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_uid != geteuid()) {
		weft_fd_unuse(h);
		weft_fd_close(h);
		return -EPERM;
	}
	weft_fd_unuse(h);
	return h;
}

static void report_format(const struct weft_report *r, struct weft_json *b)
{
	weft_json_appendf(b, "weft report: pid %d, ran %.1f ms\n", (int)weft_process.pid,
			  ms(r->end_ns - r->start_ns));
	weft_json_appendf(b, "  threads: %lld created, %lld at most alive at once\n",
			  (long long)r->threads_created, (long long)r->peak_threads);
	for (size_t i = 0; i < r->n_pools; i++)
		weft_json_appendf(b, "    %-40s %lld\n", r->pools[i].name,
				  (long long)r->pools[i].count);
	if (r->other_pools)
		weft_json_appendf(b, "    %-40s %lld\n", "(other start routines)",
				  (long long)r->other_pools);
	weft_json_appendf(b, "  blocking calls: %llu, %.3f ms in all\n",
			  (unsigned long long)r->waits_total, ms(r->waited_ns));
	for (size_t i = 0; i < r->n_waits; i++)
		weft_json_appendf(b, "    %-8s %10.3f ms  thread %d in %s\n", r->waits[i].kind,
				  ms(r->waits[i].duration_ns), (int)r->waits[i].tid,
				  r->waits[i].function);
	weft_json_appendf(b, "  spans exported: %lld\n", (long long)r->spans_exported);
	if (r->dropped)
		weft_json_appendf(b,
				  "  NOT DELIVERED: %lld events (see weft.agent.events.dropped)\n",
				  (long long)r->dropped);
	if (r->output[0])
		weft_json_appendf(b, "  telemetry: %s\n", r->output);
}

void weft_report_write(const struct weft_report *r, const char *where)
{
	char path[WEFT_OUTFILE_NAME_MAX + 4096];
	struct weft_json b;
	int h = weft_fd_stderr(), fd, err;

	if (strcmp(where, "stderr") != 0) {
		h = report_open(where, path, sizeof(path));
		if (h < 0) {
			weft_warn("cannot write the report to %s: %s; writing it to stderr", path,
				  h == -EPERM ? "the file belongs to another user"
					      : strerrordesc_np(-h));
			h = weft_fd_stderr();
		}
	}
	weft_json_init(&b);
	report_format(r, &b);
	/* The whole report in one write sequence: reports appended together never mix. */
	fd = h == WEFT_FD_NOT_YET ? STDERR_FILENO : weft_fd_use(h);
	err = fd < 0 ? fd : weft_json_write_fd(&b, fd, REPORT_WRITE_TIMEOUT_MS);
	if (fd >= 0 && h != WEFT_FD_NOT_YET)
		weft_fd_unuse(h);
	if (err < 0 && fd >= 0)
		weft_warn("the report was not written in full: %s", strerrordesc_np(-err));
	if (h >= 0 && h != weft_fd_stderr())
		weft_fd_close(h);
	weft_json_free(&b);
}
