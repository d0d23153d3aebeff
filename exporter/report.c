#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/agent.h"
#include "agent/clock.h"
#include "agent/fd.h"
#include "agent/format.h"
#include "agent/log.h"
#include "exporter/json.h"
#include "exporter/outfile.h"
#include "exporter/outputs.h"
#include "exporter/report.h"
#include "exporter/resource.h"

/* The report is written at exit: a stalled stderr pipe may hold it this long. */
#define REPORT_WRITE_TIMEOUT_MS 500

/* --- Histograms ---------------------------------------------------------- */

/* The bucket of `ns`: the value itself below 8, else 4 per power of two (report.h). */
static unsigned hist_bucket(uint64_t ns)
{
	unsigned e;

	if (ns < 8)
		return (unsigned)ns;
	e = 63u - (unsigned)__builtin_clzll(ns);
	return 4u * (e - 1u) + (unsigned)((ns >> (e - 2u)) & 3u);
}

/* The middle of bucket `i` (its only value below 8). */
static uint64_t hist_middle(unsigned i)
{
	uint64_t width;

	if (i < 8)
		return i;
	width = (uint64_t)1 << (i / 4u - 1u);
	return (4u + i % 4u) * width + width / 2u;
}

_Static_assert(WEFT_REPORT_HIST_BUCKETS == 4 * 62 + 3 + 1, "a bucket for UINT64_MAX");

/* Inline: a task's end adds to two histograms. */
static inline void hist_add(struct weft_report_hist *h, uint64_t ns)
{
	if (h->count == 0 || ns < h->min)
		h->min = ns;
	if (ns > h->max)
		h->max = ns;
	h->count++;
	h->buckets[hist_bucket(ns)]++;
}

void weft_report_hist_add(struct weft_report_hist *h, uint64_t ns)
{
	hist_add(h, ns);
}

uint64_t weft_report_hist_percentile(const struct weft_report_hist *h, double p)
{
	uint64_t rank, seen = 0, v = 0;

	if (h->count == 0)
		return 0;
	/* The nearest rank: the smallest value with at least p of the values at or below it. */
	rank = (uint64_t)(p * (double)h->count);
	if ((double)rank < p * (double)h->count)
		rank++; /* rounded up */
	/* The smallest and the largest are known exactly. */
	if (rank <= 1)
		return h->min;
	if (rank >= h->count)
		return h->max;
	for (unsigned i = 0; i < WEFT_REPORT_HIST_BUCKETS; i++) {
		seen += h->buckets[i];
		if (seen >= rank) {
			v = hist_middle(i);
			break;
		}
	}
	return v < h->min ? h->min : v > h->max ? h->max : v;
}

/* --- What the exporter tells it ------------------------------------------ */

void weft_report_thread_created(struct weft_report *r)
{
	r->threads_created++;
}

/* Pool `name`'s entry (names longer than the entry's are cut), or NULL when the table is full. */
struct weft_report_pool *weft_report_pool_of(struct weft_report *r, const char *name)
{
	const size_t cut = sizeof(r->pools[0].name) - 1;

	/* Compared up to the cut, copied only when new. */
	for (size_t i = 0; i < r->n_pools; i++)
		if (strncmp(r->pools[i].name, name, cut) == 0)
			return &r->pools[i];
	if (r->n_pools == WEFT_REPORT_POOLS)
		return NULL;
	if (r->n_pools < r->pools_written)
		memset(&r->pools[r->n_pools], 0, sizeof(r->pools[0]));
	else
		r->pools_written = r->n_pools + 1;
	memcpy(r->pools[r->n_pools].name, name, strnlen(name, cut)); /* zero: terminated */
	return &r->pools[r->n_pools++];
}

void weft_report_reset(struct weft_report *r)
{
	memset(r, 0, offsetof(struct weft_report, pools_written));
}

void weft_report_thread_ended(struct weft_report *r, const char *pool, uint64_t start_ns,
			      uint64_t end_ns)
{
	struct weft_report_pool *p = weft_report_pool_of(r, pool);

	if (!p) {
		r->other_threads++;
		return;
	}
	p->threads++;
	p->thread_ns += end_ns > start_ns ? end_ns - start_ns : 0;
}

void weft_report_task(struct weft_report *r, const char *pool, uint64_t duration_ns,
		      uint64_t queue_ns)
{
	weft_report_pool_task(r, weft_report_pool_of(r, pool), duration_ns, queue_ns);
}

void weft_report_pool_task(struct weft_report *r, struct weft_report_pool *p, uint64_t duration_ns,
			   uint64_t queue_ns)
{
	if (!p) {
		r->other_tasks++;
		return;
	}
	p->tasks++;
	p->task_ns += duration_ns;
	hist_add(&p->task, duration_ns);
	if (queue_ns != UINT64_MAX)
		hist_add(&p->queue, queue_ns);
}

/* Insertion into the short list of the longest waits. */
static __attribute__((noinline)) void wait_keep(struct weft_report *r, const char *kind,
						const char *function, pid_t tid,
						uint64_t duration_ns)
{
	size_t i;

	for (i = r->n_waits; i > 0 && r->waits[i - 1].duration_ns < duration_ns; i--)
		if (i < WEFT_REPORT_WAITS)
			r->waits[i] = r->waits[i - 1];
	if (i >= WEFT_REPORT_WAITS)
		return;
	weft_copy(r->waits[i].kind, sizeof(r->waits[i].kind), kind);
	weft_copy(r->waits[i].function, sizeof(r->waits[i].function), function);
	r->waits[i].tid = tid;
	r->waits[i].duration_ns = duration_ns;
	if (r->n_waits < WEFT_REPORT_WAITS)
		r->n_waits++;
}

void weft_report_wait(struct weft_report *r, const char *kind, const char *function, pid_t tid,
		      uint64_t duration_ns)
{
	r->waits_total++;
	r->waited_ns += duration_ns;
	/* Once the list is full, most waits are no longer than its last: only counted. */
	if (r->n_waits == WEFT_REPORT_WAITS &&
	    r->waits[WEFT_REPORT_WAITS - 1].duration_ns >= duration_ns)
		return;
	wait_keep(r, kind, function, tid, duration_ns);
}

void weft_report_finding(struct weft_report *r, enum weft_report_rank rank,
			 const struct weft_report_facts *facts, const char *text)
{
	struct weft_report_finding *f;
	size_t i;

	/* Full: the least important goes, unless it is the newcomer. */
	if (r->n_findings == WEFT_REPORT_FINDINGS) {
		r->other_findings++;
		if (r->findings[WEFT_REPORT_FINDINGS - 1].rank <= (int)rank)
			return;
		r->n_findings--;
	}
	/* After every finding of the same or a more important rank. */
	for (i = r->n_findings; i > 0 && r->findings[i - 1].rank > (int)rank; i--)
		r->findings[i] = r->findings[i - 1];
	f = &r->findings[i];
	memset(f, 0, sizeof(*f));
	f->rank = (int)rank;
	weft_copy(f->text, sizeof(f->text), text);
	f->kind = facts->kind;
	weft_copy(f->pool, sizeof(f->pool), facts->pool);
	weft_copy(f->wait_kind, sizeof(f->wait_kind), facts->wait_kind);
	weft_copy(f->function, sizeof(f->function), facts->function);
	f->threads = facts->threads;
	f->lock_first = facts->lock_first;
	f->lock_second = facts->lock_second;
	weft_copy(f->site_forward, sizeof(f->site_forward), facts->site_forward);
	weft_copy(f->site_reverse, sizeof(f->site_reverse), facts->site_reverse);
	r->n_findings++;
}

/*
 * ns in units of `unit` ns (a power of ten) with `places` decimals, rounded
 * half up: exact, from the integer, without printf's floating point.
 */
static const char *decimal(uint64_t ns, uint64_t unit, int places, char out[32])
{
	uint64_t step = unit, scale = 1, q;

	for (int i = 0; i < places; i++) {
		step /= 10;
		scale *= 10;
	}
	/* ns / step rounded, without overflow near UINT64_MAX. */
	q = ns / step + (ns % step >= step - step / 2 ? 1 : 0);

	if (places)
		weft_format(out, 32, "%" PRIu64 ".%0*" PRIu64, q / scale, places, q % scale);
	else
		weft_format(out, 32, "%" PRIu64, q);
	return out;
}

/* Milliseconds with `places` decimals. */
static const char *ms(uint64_t ns, int places, char out[32])
{
	return decimal(ns, 1000000, places, out);
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

/*
 * A duration for a person: 850ns, 12us, 1.5ms, 140ms, 2s (three significant
 * digits at most, as the histograms hold no more); "-" for none.
 */
const char *weft_report_human_ns(uint64_t ns, bool known, char out[24])
{
	static const struct {
		uint64_t ns;
		const char *unit;
	} units[] = { { 1, "ns" }, { 1000, "us" }, { 1000000, "ms" }, { 1000000000, "s" } };
	size_t u = 0;
	uint64_t tenths;
	char num[32];

	if (!known)
		return "-";
	/* The largest unit that shows at least 1 (999.5us rounds to 1ms, not 1000us). */
	while (u + 1 < sizeof(units) / sizeof(units[0]) &&
	       ns >= units[u + 1].ns - units[u + 1].ns / 2000)
		u++;
	/* Tenths of the unit, rounded: one decimal below 9.95 when it is not 0. */
	tenths = u ? ns / (units[u].ns / 10) + (ns % (units[u].ns / 10) >= units[u].ns / 20) : 0;
	weft_format(out, 24, "%s%s",
		    decimal(ns, units[u].ns, u && tenths < 100 && tenths % 10 != 0 ? 1 : 0, num),
		    units[u].unit);
	return out;
}

static int digits(int64_t v)
{
	int n = 1;

	while (v >= 10) {
		v /= 10;
		n++;
	}
	return n;
}

/*
 * One aligned line per pool: its threads, the tasks they ran, the fraction of
 * their lifetimes spent in tasks, and the tasks' durations and queue times.
 */
static void format_pools(const struct weft_report *r, struct weft_json *b)
{
	int name_w = 4, threads_w = 1, tasks_w = 1;

	if (r->n_pools == 0 && !r->other_threads && !r->other_tasks)
		return;
	for (size_t i = 0; i < r->n_pools; i++) {
		const struct weft_report_pool *p = &r->pools[i];
		int n = (int)strlen(p->name);

		name_w = n > name_w ? n : name_w;
		threads_w = digits(p->threads) > threads_w ? digits(p->threads) : threads_w;
		tasks_w = digits(p->tasks) > tasks_w ? digits(p->tasks) : tasks_w;
	}
	weft_json_appendf(b, "  pools:\n");
	for (size_t i = 0; i < r->n_pools; i++) {
		const struct weft_report_pool *p = &r->pools[i];
		const struct weft_report_hist *t = &p->task, *q = &p->queue;
		char busy[8] = "-", v[4][24];

		if (p->thread_ns) {
			/* Twice the percentage, to round it half up; some work is not shown as
			 * none. */
			weft_u128 twice = (weft_u128)p->task_ns * 200 / p->thread_ns;

			if (p->task_ns && twice == 0)
				weft_copy(busy, sizeof(busy), "<1%");
			else
				weft_format(busy, sizeof(busy), "%llu%%",
					    (unsigned long long)((twice + 1) / 2));
		}
		weft_json_appendf(
			b,
			"    %-*s  threads %*lld  tasks %*lld  busy %4s  task p50 %-5s p99 %-5s"
			"  queue p50 %-5s p99 %s\n",
			name_w, p->name, threads_w, (long long)p->threads, tasks_w,
			(long long)p->tasks, busy,
			weft_report_human_ns(weft_report_hist_percentile(t, 0.5), t->count, v[0]),
			weft_report_human_ns(weft_report_hist_percentile(t, 0.99), t->count, v[1]),
			weft_report_human_ns(weft_report_hist_percentile(q, 0.5), q->count, v[2]),
			weft_report_human_ns(weft_report_hist_percentile(q, 0.99), q->count, v[3]));
	}
	if (r->other_threads || r->other_tasks)
		weft_json_appendf(
			b, "    (more pools than %d: %lld threads, %lld tasks not listed)\n",
			WEFT_REPORT_POOLS, (long long)r->other_threads, (long long)r->other_tasks);
}

void weft_report_format(const struct weft_report *r, struct weft_json *b)
{
	char num[32];

	weft_json_appendf(b, "weft report: pid %d, ran %s ms\n", (int)weft_process.pid,
			  ms(r->end_ns - r->start_ns, 1, num));
	if (r->n_findings) {
		weft_json_appendf(b, "  findings:\n");
		for (size_t i = 0; i < r->n_findings; i++)
			weft_json_appendf(b, "    %s\n", r->findings[i].text);
		if (r->other_findings)
			weft_json_appendf(b, "    (%lld more not listed)\n",
					  (long long)r->other_findings);
	}
	weft_json_appendf(b, "  threads: %lld created, %lld at most alive at once\n",
			  (long long)r->threads_created, (long long)r->peak_threads);
	format_pools(r, b);
	weft_json_appendf(b, "  blocking calls: %llu, %s ms in all\n",
			  (unsigned long long)r->waits_total, ms(r->waited_ns, 3, num));
	for (size_t i = 0; i < r->n_waits; i++)
		weft_json_appendf(b, "    %-8s %10s ms  thread %d in %s\n", r->waits[i].kind,
				  ms(r->waits[i].duration_ns, 3, num), (int)r->waits[i].tid,
				  r->waits[i].function);
	weft_json_appendf(b, "  spans exported: %lld\n", (long long)r->spans_exported);
	if (r->dropped)
		weft_json_appendf(b,
				  "  NOT DELIVERED: %lld events (see weft.agent.events.dropped)\n",
				  (long long)r->dropped);
	if (r->output[0])
		weft_json_appendf(b, "  telemetry: %s\n", r->output);
}

void weft_report_write(const char *text, size_t len, const char *where)
{
	char path[WEFT_OUTFILE_NAME_MAX + 4096];
	struct weft_json b = { .buf = (char *)text, .len = len, .cap = len };
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
	/* The whole report in one write sequence: reports appended together never mix. */
	fd = h == WEFT_FD_NOT_YET ? STDERR_FILENO : weft_fd_use(h);
	err = fd < 0 ? fd : weft_json_write_fd(&b, fd, REPORT_WRITE_TIMEOUT_MS);
	if (fd >= 0 && h != WEFT_FD_NOT_YET)
		weft_fd_unuse(h);
	if (err < 0 && fd >= 0)
		weft_warn("the report was not written in full: %s", strerrordesc_np(-err));
	if (h >= 0 && h != weft_fd_stderr())
		weft_fd_close(h);
}
