#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "agent/agent.h"
#include "agent/log.h"
#include "exporter/report.h"

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

static void out(int fd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void out(int fd, const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	size_t n, off = 0;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	n = strlen(buf);
	while (off < n) {
		ssize_t w = write(fd, buf + off, n - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return;
		off += (size_t)w;
	}
}

static double ms(uint64_t ns)
{
	return (double)ns / 1e6;
}

void weft_report_write(const struct weft_report *r, const char *where)
{
	int fd = STDERR_FILENO;

	if (strcmp(where, "stderr") != 0) {
		fd = open(where, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
		if (fd < 0) {
			weft_warn("cannot write the report to %s: %s; writing it to stderr", where,
				  strerror(errno));
			fd = STDERR_FILENO;
		}
	}
	out(fd, "weft report: pid %d, ran %.1f ms\n", (int)weft_process.pid,
	    ms(r->end_ns - r->start_ns));
	out(fd, "  threads: %lld created, %lld at most alive at once\n",
	    (long long)r->threads_created, (long long)r->peak_threads);
	for (size_t i = 0; i < r->n_pools; i++)
		out(fd, "    %-40s %lld\n", r->pools[i].name, (long long)r->pools[i].count);
	if (r->other_pools)
		out(fd, "    %-40s %lld\n", "(other start routines)", (long long)r->other_pools);
	out(fd, "  blocking calls: %llu, %.3f ms in all\n", (unsigned long long)r->waits_total,
	    ms(r->waited_ns));
	for (size_t i = 0; i < r->n_waits; i++)
		out(fd, "    %-8s %10.3f ms  thread %d in %s\n", r->waits[i].kind,
		    ms(r->waits[i].duration_ns), (int)r->waits[i].tid, r->waits[i].function);
	out(fd, "  spans exported: %lld\n", (long long)r->spans_exported);
	if (r->dropped)
		out(fd, "  NOT DELIVERED: %lld events (see weft.agent.events.dropped)\n",
		    (long long)r->dropped);
	if (r->output[0])
		out(fd, "  telemetry: %s\n", r->output);
	if (fd != STDERR_FILENO)
		close(fd);
}
