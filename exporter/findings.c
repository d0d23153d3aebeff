/* Hot locks and saturated pools (exporter/findings.h). */
#include <stdio.h>
#include <string.h>

#include "agent/large.h"
#include "exporter/channels.h"
#include "exporter/findings.h"
#include "exporter/tasks.h"
#include "exporter/threadtime.h"

struct site_ns {
	const char *site; /* the symbols cache's string */
	uint64_t ns;
};

struct lock_entry {
	uint64_t object; /* 0: a free entry */
	enum weft_wait_kind kind;
	uint64_t ns, waits;
	struct site_ns sites[3], releases[2];
	struct {
		char pool[32];
		uint64_t waits;
	} holders[2];
};

static struct lock_entry locks[WEFT_FINDINGS_LOCKS] WEFT_LARGE;
/* Entries in use: locks[0..n_locks), filled in order, never emptied but by a reset. */
static size_t n_locks;

/* Channels whose writers blocked, and who reads them (the first channels seen; enough). */
static struct {
	uint32_t channel;
	uint64_t full_ns;
	char reader[32];
} chans[WEFT_FINDINGS_CHANNELS];

/* The entries found last: reads and writes come back to the same channels. */
static size_t chan_recent[2];

static size_t chan_index(uint32_t channel)
{
	size_t i;

	for (int k = 0; k < 2; k++)
		if (chans[chan_recent[k]].channel == channel)
			return chan_recent[k];
	for (i = 0; i < WEFT_FINDINGS_CHANNELS && chans[i].channel; i++)
		if (chans[i].channel == channel)
			break;
	if (i < WEFT_FINDINGS_CHANNELS && !chans[i].channel)
		chans[i].channel = channel;
	if (i < WEFT_FINDINGS_CHANNELS) {
		chan_recent[1] = chan_recent[0];
		chan_recent[0] = i;
	}
	return i;
}

void weft_findings_channel_reader(uint32_t channel, const struct weft_thread *t)
{
	size_t i;

	/* Asked at every blocked read and every task from a channel: once named, a few loads. */
	for (int k = 0; k < 2; k++)
		if (chans[chan_recent[k]].channel == channel && chans[chan_recent[k]].reader[0])
			return;
	i = chan_index(channel);

	if (i < WEFT_FINDINGS_CHANNELS && !chans[i].reader[0])
		snprintf(chans[i].reader, sizeof(chans[i].reader), "%s", weft_tasks_pool_name(t));
}

void weft_findings_channel_full(uint32_t channel, uint64_t ns)
{
	size_t i = chan_index(channel);

	if (i < WEFT_FINDINGS_CHANNELS)
		chans[i].full_ns += ns;
}

static void slow_stage(struct weft_report *r, uint64_t run_ns)
{
	size_t best = WEFT_FINDINGS_CHANNELS;
	uint64_t blocked = 0, all = 0, best_blocked = 0, best_all = 0;
	char line[480];
	const char *name;

	for (size_t i = 0; i < WEFT_FINDINGS_CHANNELS && chans[i].channel; i++) {
		if (!chans[i].reader[0] ||
		    (double)chans[i].full_ns < WEFT_FINDINGS_FULL_SHARE * (double)run_ns)
			continue;
		weft_threadtime_pool(chans[i].reader, &blocked, &all);
		if (!all || (double)blocked >= WEFT_FINDINGS_STAGE_BLOCKED * (double)all)
			continue;
		if (best == WEFT_FINDINGS_CHANNELS || chans[i].full_ns > chans[best].full_ns) {
			best = i;
			best_blocked = blocked;
			best_all = all;
		}
	}
	if (best == WEFT_FINDINGS_CHANNELS)
		return;
	name = weft_channels_name(chans[best].channel);
	snprintf(line, sizeof(line),
		 "slow stage: pool %s limits the pipeline: writers found its input %s full %.0f%% "
		 "of the run, while it was blocked %.0f%% of its time",
		 chans[best].reader, name ? name : "channel",
		 100.0 * (double)chans[best].full_ns / (double)run_ns,
		 100.0 * (double)best_blocked / (double)best_all);
	weft_report_finding(r, WEFT_REPORT_SLOW_STAGE,
			    &(struct weft_report_facts){ .kind = "slow_stage",
							 .pool = chans[best].reader,
							 .wait_kind = "pipe.write" },
			    line);
}

/* Adds `ns` to `site` among `n` kept; a new site replaces the least one if it outweighs it. */
static void site_add(struct site_ns *s, size_t n, const char *site, uint64_t ns)
{
	size_t least = 0;

	if (!site)
		return;
	for (size_t i = 0; i < n; i++) {
		if (s[i].site == site) {
			s[i].ns += ns;
			return;
		}
		if (s[i].ns < s[least].ns)
			least = i;
	}
	if (s[least].ns <= ns)
		s[least] = (struct site_ns){ site, ns };
}

/* The entry of a lock: found, or made in a free one or in place of the one that waited least. */
static struct lock_entry *lock_entry(enum weft_wait_kind kind, uint64_t object)
{
	struct lock_entry *free_one = NULL, *least = NULL;
	uint64_t base;

	for (size_t i = 0; i < n_locks; i++) {
		struct lock_entry *e = &locks[i];

		if (e->object == object && e->kind == kind)
			return e;
		if (!least || e->ns < least->ns)
			least = e;
	}
	/* Space saving: a newcomer in a full table starts from the total it displaces. */
	if (n_locks < WEFT_FINDINGS_LOCKS)
		free_one = &locks[n_locks++];
	else
		free_one = least;
	base = free_one->object ? free_one->ns : 0;
	memset(free_one, 0, sizeof(*free_one));
	free_one->object = object;
	free_one->kind = kind;
	free_one->ns = base;
	return free_one;
}

void weft_findings_lock_wait(enum weft_wait_kind kind, uint64_t object, const char *site,
			     const char *holder, uint64_t ns)
{
	struct lock_entry *e = lock_entry(kind, object);
	size_t i;

	e->ns += ns;
	e->waits++;
	site_add(e->sites, 3, site, ns);
	if (!holder || !holder[0])
		return;
	for (i = 0; i < 2 && e->holders[i].pool[0] && strcmp(e->holders[i].pool, holder) != 0; i++)
		;
	if (i == 2)
		i = e->holders[0].waits <= e->holders[1].waits ? 0 : 1;
	if (strcmp(e->holders[i].pool, holder) != 0) {
		snprintf(e->holders[i].pool, sizeof(e->holders[i].pool), "%s", holder);
		e->holders[i].waits = 0;
	}
	e->holders[i].waits++;
}

void weft_findings_lock_hold(uint64_t object, const char *site, uint64_t ns)
{
	for (size_t i = 0; i < n_locks; i++)
		if (locks[i].object == object)
			site_add(locks[i].releases, 2, site, ns);
}

/* The kept sites, largest first, as "a (1.2s), b (40ms)" into out. */
static void sites_text(struct site_ns *s, size_t n, char *out, size_t size)
{
	size_t off = 0;
	char v[24];

	out[0] = 0;
	for (size_t i = 1; i < n; i++)
		for (size_t k = i; k > 0 && s[k].ns > s[k - 1].ns; k--) {
			struct site_ns tmp = s[k];

			s[k] = s[k - 1];
			s[k - 1] = tmp;
		}
	for (size_t i = 0; i < n && s[i].site && off < size; i++)
		off += (size_t)snprintf(out + off, size - off, "%s%s (%s)", i ? ", " : "",
					s[i].site, weft_report_human_ns(s[i].ns, true, v));
}

static void hot_locks(struct weft_report *r, uint64_t run_ns)
{
	struct lock_entry *top[3] = { NULL, NULL, NULL };
	char waited[24], at[200], released[120], line[480];

	for (size_t i = 0; i < n_locks; i++) {
		struct lock_entry *e = &locks[i];

		if (!e->object || (double)e->ns < WEFT_FINDINGS_HOT_SHARE * (double)run_ns)
			continue;
		for (size_t k = 0; k < 3; k++)
			if (!top[k] || e->ns > top[k]->ns) {
				memmove(&top[k + 1], &top[k], (2 - k) * sizeof(top[0]));
				top[k] = e;
				break;
			}
	}
	for (size_t k = 0; k < 3 && top[k]; k++) {
		struct lock_entry *e = top[k];
		const char *holder = e->holders[0].waits >= e->holders[1].waits
					     ? e->holders[0].pool
					     : e->holders[1].pool;

		sites_text(e->sites, 3, at, sizeof(at));
		sites_text(e->releases, 2, released, sizeof(released));
		snprintf(line, sizeof(line),
			 "hot lock: %s 0x%llx: waited %s in all (%llu waits) at %s; held by pool "
			 "%s%s%s",
			 weft_wait_kind_name(e->kind), (unsigned long long)e->object,
			 weft_report_human_ns(e->ns, true, waited), (unsigned long long)e->waits,
			 at[0] ? at : "?", holder[0] ? holder : "?",
			 released[0] ? ", released in " : "", released);
		weft_report_finding(r, WEFT_REPORT_HOT_LOCK,
				    &(struct weft_report_facts){
					    .kind = "hot_lock",
					    .pool = holder[0] ? holder : NULL,
					    .wait_kind = weft_wait_kind_name(e->kind),
					    .function = e->sites[0].site,
				    },
				    line);
	}
}

static void saturated_pools(struct weft_report *r)
{
	char line[480], q[24], t[24];

	for (size_t i = 0; i < r->n_pools; i++) {
		const struct weft_report_pool *p = &r->pools[i];
		uint64_t queue, task;
		double busy;

		if (p->tasks < WEFT_FINDINGS_MIN_TASKS || !p->thread_ns || !p->queue.count)
			continue;
		busy = (double)p->task_ns / (double)p->thread_ns;
		queue = weft_report_hist_percentile(&p->queue, 0.5);
		task = weft_report_hist_percentile(&p->task, 0.5);
		if (busy < WEFT_FINDINGS_BUSY || queue <= task)
			continue;
		snprintf(
			line, sizeof(line),
			"saturated pool: pool %s was busy %.0f%% of its %lld threads' time, and "
			"its "
			"items waited longer in the queue (p50 %s) than a task took (p50 %s): more "
			"work than threads",
			p->name, 100.0 * busy, (long long)p->threads,
			weft_report_human_ns(queue, true, q), weft_report_human_ns(task, true, t));
		weft_report_finding(r, WEFT_REPORT_SATURATED,
				    &(struct weft_report_facts){ .kind = "saturated_pool",
								 .pool = p->name,
								 .threads = p->threads },
				    line);
	}
}

void weft_findings_conclude(struct weft_report *r, uint64_t run_ns)
{
	hot_locks(r, run_ns);
	slow_stage(r, run_ns);
	saturated_pools(r);
}

void weft_findings_reset(void)
{
	/* Only what was used (each table fills from its start): no page of the rest is touched. */
	memset(locks, 0, n_locks * sizeof(locks[0]));
	n_locks = 0;
	for (size_t i = 0; i < WEFT_FINDINGS_CHANNELS && chans[i].channel; i++)
		memset(&chans[i], 0, sizeof(chans[i]));
}
