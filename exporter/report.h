/*
 * The end-of-run report (WEFT_REPORT): what a person reads first.
 *
 * A few lines of plain text — run time, threads by pool, the longest waits,
 * anything weft could not deliver, and where the full telemetry went — written
 * at exit to stderr or a file. Fed by the exporter as it interprets events.
 */
#ifndef WEFT_EXPORTER_REPORT_H
#define WEFT_EXPORTER_REPORT_H

#include <stdint.h>
#include <sys/types.h>

enum { WEFT_REPORT_POOLS = 16, WEFT_REPORT_WAITS = 5 };

struct weft_report {
	uint64_t start_ns, end_ns;
	int64_t peak_threads;
	int64_t threads_created;
	int64_t spans_exported;
	int64_t dropped;
	char output[576];
	struct {
		char name[64];
		int64_t count;
	} pools[WEFT_REPORT_POOLS];
	size_t n_pools;
	int64_t other_pools;
	struct {
		char kind[16];
		char function[64];
		pid_t tid;
		uint64_t duration_ns;
	} waits[WEFT_REPORT_WAITS]; /* longest first */
	size_t n_waits;
	uint64_t waits_total;
	uint64_t waited_ns;
};

void weft_report_thread_created(struct weft_report *r, const char *pool);
void weft_report_wait(struct weft_report *r, const char *kind, const char *function, pid_t tid,
		      uint64_t duration_ns);

/*
 * `where`: "stderr" (weft's copy of the program's stderr, agent/fd.h) or a path
 * in which %p is the pid and %n the service name, as in WEFT_OUTPUT; created
 * 0600 with O_EXCL, never through a symlink; an existing file of this user is
 * appended to, never truncated (another process of the same program may have
 * written its report there), one of another user refused.
 */
void weft_report_write(const struct weft_report *r, const char *where);

#endif
