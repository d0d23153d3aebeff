/*
 * The otlp output: OTLP/HTTP protobuf (see otlp_http.h for the behaviour a
 * user sees). This file is the sink: it encodes, compresses, hands each body
 * to the retry policy (otlp_retry.c) over the libcurl transport
 * (otlp_transport.c), and at exit keeps what could not be delivered in the
 * spool (otlp_spool.c). Endpoints are otlp_url.c's, headers otlp_headers.c's.
 *
 * Each signal is a `channel`: its URL and header list, fixed at open, its
 * connection and its retry state.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "agent/agent.h"
#include "agent/alloc.h"
#include "agent/log.h"
#include "exporter/curl_dl.h"
#include "exporter/gzip.h"
#include "exporter/otlp_encode.h"
#include "exporter/otlp_headers.h"
#include "exporter/otlp_http.h"
#include "exporter/otlp_retry.h"
#include "exporter/otlp_spool.h"
#include "exporter/otlp_transport.h"
#include "exporter/otlp_url.h"
#include "exporter/resource.h"

#define WEFT_OTLP_SEEN_KINDS 16
/* The most of the exit's wait kept for writing the spool after the budget. */
#define WEFT_OTLP_SPOOL_RESERVE (250 * WEFT_OTLP_NSEC_PER_MSEC)
#define WEFT_OTLP_URL_MAX       (WEFT_CONFIG_STR + 16)

struct weft_otlp_channel {
	enum weft_otlp_signal signal;
	const char *name;  /* "traces" */
	const char *items; /* "spans" */
	uint64_t export_timeout_ns;
	char url[WEFT_OTLP_URL_MAX];
	char shown[WEFT_OTLP_URL_MAX]; /* url without user:password@ */
	struct weft_otlp_conn conn;
	struct weft_otlp_retry retry;
	/* What has been reported once. */
	long seen[WEFT_OTLP_SEEN_KINDS];
	size_t n_seen;
	bool partial_logged;
};

struct weft_otlp {
	struct weft_sink sink;
	const struct weft_curl *c;
	struct weft_otlp_channel ch[2];
	bool has[2];
	struct weft_gzip *gz;
	uint64_t request_timeout_ns;
	struct weft_otlp_exit exit;
	char certificate[WEFT_CONFIG_STR];
	char user_agent[64];
	pid_t pid;
	/* weft-send: failures are returned to the caller, never printed here. */
	bool quiet;
	/* What could not be delivered before the exit, and the first reason why. */
	struct weft_otlp_spool spool;
	const char *spool_shown;
	char spool_why[320];
	/* Forked while the parent was inside libcurl: libcurl is not used here. */
	bool fork_unsafe;
	struct weft_sink *fallback;
	bool fallback_tried;
};

/* The sink of this process, so that a forked child can retire the parent's. */
static struct weft_otlp *current;

static void log_partial_success(struct weft_otlp_channel *ch)
{
	struct weft_otlp_conn *k = &ch->conn;
	char msg[256];
	int64_t rejected;

	if (ch->partial_logged || !k->body_len)
		return;
	if (weft_otlp_decode_partial_success((int)ch->signal, k->body, k->body_len, &rejected, msg,
					     sizeof(msg)) != 0)
		return;
	if (rejected <= 0 && !msg[0])
		return;
	ch->partial_logged = true;
	weft_warn("collector rejected %" PRId64 " %s: %s", rejected, ch->items,
		  msg[0] ? msg : "(no message)");
}

static void report_failure(struct weft_otlp_channel *ch, const struct weft_otlp_result *r,
			   size_t items)
{
	char tries[48] = "";

	for (size_t i = 0; i < ch->n_seen; i++)
		if (ch->seen[i] == r->f.kind)
			return;
	if (ch->n_seen < WEFT_OTLP_SEEN_KINDS)
		ch->seen[ch->n_seen++] = r->f.kind;
	if (r->attempts > 1)
		snprintf(tries, sizeof(tries), " (%u attempts)", r->attempts);
	weft_warn("otlp: cannot export %s to %s: %s%s; %zu %s dropped%s (further failures "
		  "like this one are counted in weft.agent.export.failures, not printed)",
		  ch->name, ch->shown, r->f.why, tries, items, ch->items,
		  r->final ? ", not retried" : "");
}

/*
 * At exit: a body that could not be delivered in the exit budget is kept in
 * the spool; the one line about it comes at shutdown.
 */
static int spool(struct weft_otlp *o, struct weft_otlp_channel *ch, const uint8_t *buf, size_t len,
		 size_t items, const struct weft_otlp_result *r)
{
	if (!o->spool_shown) {
		o->spool_shown = ch->shown;
		snprintf(o->spool_why, sizeof(o->spool_why), "%s", r->f.why);
	}
	return weft_otlp_spool_add(&o->spool, weft_cfg.output_path, weft_resource_service_name(),
				   (int)ch->signal, buf, len, items);
}

/*
 * One encoded body (buf, which this frees) → maybe gzip → the retry policy.
 * Returns 0 when delivered, or kept in the spool at exit (the caller then
 * counts the spans as exported: they are not lost).
 */
static int deliver(struct weft_otlp *o, struct weft_otlp_channel *ch, uint8_t *buf, size_t len,
		   size_t items, struct weft_otlp_result *r)
{
	const struct weft_otlp_transport tr = { .attempt = weft_otlp_conn_attempt,
						.arg = &ch->conn };
	const uint8_t *body = buf;
	size_t body_len = len;
	int err;

	*r = (struct weft_otlp_result){ 0 };
	if (o->gz) {
		err = weft_gzip_compress(o->gz, buf, len, &body, &body_len);
		if (err) {
			r->err = r->f.err = err;
			snprintf(r->f.why, sizeof(r->f.why), "cannot compress (%s)",
				 strerror(-err));
			weft_free(buf);
			return err;
		}
	}
	err = weft_otlp_retry_send(&ch->retry, weft_otlp_env_real(), &o->exit, &tr,
				   ch->export_timeout_ns, o->request_timeout_ns, body, body_len, r);
	if (!err) {
		log_partial_success(ch);
	} else if (o->exit.seen_ns && !r->final && !o->quiet) {
		/*
		 * Kept in the spool (said at shutdown): not lost, so not counted as
		 * a failed export; a body the spool could not take is.
		 */
		weft_debug("otlp: %s not delivered before exit after %u attempt(s): %s", ch->name,
			   r->attempts, r->f.why);
		if (spool(o, ch, buf, len, items, r) == 0)
			err = 0;
	} else if (!o->quiet && !r->cooling) {
		report_failure(ch, r, items);
	}
	weft_free(buf);
	return err;
}

/* --- The sink ------------------------------------------------------------- */

static struct weft_otlp *sink_otlp(struct weft_sink *sink)
{
	return sink->priv;
}

/*
 * A process forked while its parent's exporter was inside libcurl: the file
 * output, opened at the first export (a child that execs or _exits at once
 * never gets a file).
 */
static bool fallback(struct weft_otlp *o)
{
	char path[WEFT_CONFIG_STR + 64];

	if (o->fallback_tried)
		return o->fallback != NULL;
	o->fallback_tried = true;
	weft_config_expand_path(weft_cfg.output_path, weft_resource_service_name(), getpid(), path,
				sizeof(path));
	o->fallback = weft_jsonl_open(path);
	if (o->fallback)
		weft_warn("otlp: this process was forked while weft was inside libcurl, which it "
			  "cannot use safely here; writing %s instead",
			  path);
	return o->fallback != NULL;
}

static int otlp_export_spans(struct weft_sink *sink, const struct weft_resource *res,
			     const struct weft_span *spans, size_t n)
{
	struct weft_otlp *o = sink_otlp(sink);
	struct weft_otlp_result r;
	uint8_t *buf;
	size_t len;
	int err;

	if (!o->has[WEFT_OTLP_SIGNAL_TRACES])
		return -EINVAL;
	if (!n)
		return 0;
	if (o->fork_unsafe)
		return fallback(o) ? o->fallback->export_spans(o->fallback, res, spans, n) : -EIO;
	err = weft_otlp_encode_traces(res, spans, n, &buf, &len);
	if (err)
		return err;
	return deliver(o, &o->ch[WEFT_OTLP_SIGNAL_TRACES], buf, len, n, &r);
}

static int otlp_export_metrics(struct weft_sink *sink, const struct weft_resource *res,
			       const struct weft_metric *metrics, size_t n)
{
	struct weft_otlp *o = sink_otlp(sink);
	struct weft_otlp_result r;
	size_t points = 0;
	uint8_t *buf;
	size_t len;
	int err;

	if (!o->has[WEFT_OTLP_SIGNAL_METRICS])
		return -EINVAL;
	if (!n)
		return 0;
	if (o->fork_unsafe)
		return fallback(o) ? o->fallback->export_metrics(o->fallback, res, metrics, n)
				   : -EIO;
	for (size_t i = 0; i < n; i++)
		points += metrics[i].n_points;
	err = weft_otlp_encode_metrics(res, metrics, n, &buf, &len);
	if (err)
		return err;
	return deliver(o, &o->ch[WEFT_OTLP_SIGNAL_METRICS], buf, len, points, &r);
}

/* "7 spans and 1 metrics request", from counts by signal. */
static void describe(char *out, size_t outlen, const size_t items[2], const size_t records[2])
{
	int o = 0;

	out[0] = '\0';
	if (records[0])
		o = snprintf(out, outlen, "%zu span%s", items[0], items[0] == 1 ? "" : "s");
	if (records[1] && o >= 0 && (size_t)o < outlen)
		snprintf(out + o, outlen - (size_t)o, "%s%zu metrics request%s", o ? " and " : "",
			 records[1], records[1] == 1 ? "" : "s");
}

/* The one line about what the exit could not deliver. */
static void report_spool(struct weft_otlp *o)
{
	const struct weft_otlp_spool *s = &o->spool;
	char kept[96], lost[96];

	if (!o->spool_shown)
		return;
	describe(kept, sizeof(kept), s->items, s->records);
	describe(lost, sizeof(lost), s->lost_items, s->lost_records);
	if (kept[0] && !lost[0])
		weft_warn("otlp: could not deliver to %s before exit (%s); %s saved in %s "
			  "(send them later with: weft send %s)",
			  o->spool_shown, o->spool_why, kept, s->path, s->path);
	else if (!kept[0])
		weft_warn("otlp: could not deliver to %s before exit (%s), nor save them in %s "
			  "(%s): %s lost",
			  o->spool_shown, o->spool_why, s->path, strerror(-s->err), lost);
	else
		weft_warn("otlp: could not deliver to %s before exit (%s); %s saved in %s (send "
			  "them later with: weft send %s), %s lost (%s)",
			  o->spool_shown, o->spool_why, kept, s->path, s->path, lost,
			  strerror(-s->err));
}

/*
 * Nothing is buffered here, so there is nothing to flush. The handles are not
 * cleaned up (see otlp_transport.h): the process is about to end, and the
 * kernel closes the connections.
 */
static void otlp_shutdown(struct weft_sink *sink)
{
	struct weft_otlp *o = sink_otlp(sink);

	report_spool(o);
	if (o->fallback && o->fallback->shutdown)
		o->fallback->shutdown(o->fallback);
}

static int channel_open(struct weft_otlp *o, struct weft_otlp_channel *ch,
			enum weft_otlp_signal signal, const struct weft_config *cfg,
			const struct weft_otlp_headers *common, const struct weft_otlp_headers *own)
{
	const bool traces = signal == WEFT_OTLP_SIGNAL_TRACES;
	const char *own_var = traces ? "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"
				     : "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT";
	bool from_own;
	char why[160];
	int err;

	ch->signal = signal;
	ch->name = traces ? "traces" : "metrics";
	ch->items = traces ? "spans" : "data points";
	ch->export_timeout_ns = traces ? cfg->bsp_export_timeout_ns : cfg->metric_timeout_ns;
	weft_otlp_url_signal(cfg->endpoint, traces ? cfg->traces_endpoint : cfg->metrics_endpoint,
			     traces ? "v1/traces" : "v1/metrics", ch->url, sizeof(ch->url),
			     &from_own);
	weft_otlp_url_shown(ch->url, ch->shown, sizeof(ch->shown));
	if (!weft_otlp_url_valid(o->c, ch->url, why, sizeof(why))) {
		weft_warn("%s=%s: %s; the otlp output is off, writing the file output instead",
			  from_own ? own_var : "OTEL_EXPORTER_OTLP_ENDPOINT", ch->shown, why);
		return -EINVAL;
	}
	ch->conn.c = o->c;
	ch->conn.url = ch->url;
	ch->conn.shown = ch->shown;
	ch->conn.name = ch->name;
	ch->conn.user_agent = o->user_agent;
	ch->conn.certificate = o->certificate;
	err = weft_otlp_conn_init(&ch->conn);
	if (err)
		return err;
	return weft_otlp_headers_list(o->c, o->gz != NULL, common, own, &ch->conn.headers);
}

/* A forked child: the parent's connections are closed here and never used. */
static void retire_parent_sink(void)
{
	if (!current || current->pid == getpid())
		return;
	for (int s = 0; s < 2; s++)
		if (current->has[s])
			weft_otlp_conn_retire(&current->ch[s].conn);
	current = NULL; /* its memory is the parent's copy: leaked, never freed */
}

/* The channels of want[], their headers parsed once per variable. */
static int open_channels(struct weft_otlp *o, const struct weft_config *cfg, const bool want[2])
{
	static const char *const vars[3] = { "OTEL_EXPORTER_OTLP_HEADERS",
					     "OTEL_EXPORTER_OTLP_TRACES_HEADERS",
					     "OTEL_EXPORTER_OTLP_METRICS_HEADERS" };
	const char *raw[3] = { cfg->headers, cfg->traces_headers, cfg->metrics_headers };
	struct weft_otlp_headers h[3] = { 0 };
	int err = 0;

	for (int i = 0; i < 3 && !err; i++)
		if (i == 0 || want[i - 1])
			err = weft_otlp_headers_parse(raw[i], vars[i], &h[i]);
	for (int s = 0; s < 2 && !err; s++) {
		if (!want[s])
			continue;
		err = channel_open(o, &o->ch[s], (enum weft_otlp_signal)s, cfg, &h[0], &h[1 + s]);
		o->has[s] = !err;
	}
	/* The header lists hold copies; a failed open leaks its partial lists. */
	for (int i = 0; i < 3; i++)
		weft_otlp_headers_free(&h[i]);
	if (!err && o->has[0] && o->has[1] &&
	    weft_otlp_url_same_origin(o->ch[0].url, o->ch[1].url)) {
		o->ch[0].retry.sibling = &o->ch[1].retry;
		o->ch[1].retry.sibling = &o->ch[0].retry;
	}
	return err;
}

/*
 * The exit budget: WEFT_EXIT_TIMEOUT, less room to write the spool when it
 * comes close to OTEL_BSP_EXPORT_TIMEOUT, which is how long the exiting
 * thread waits for the final export (exporter.c): a fifth of that wait, at
 * most WEFT_OTLP_SPOOL_RESERVE, stays for writing what was not delivered.
 */
static uint64_t exit_budget(const struct weft_config *cfg)
{
	uint64_t wait = cfg->bsp_export_timeout_ns, reserve = wait / 5;

	if (reserve > WEFT_OTLP_SPOOL_RESERVE)
		reserve = WEFT_OTLP_SPOOL_RESERVE;
	return cfg->exit_timeout_ns < wait - reserve ? cfg->exit_timeout_ns : wait - reserve;
}

static struct weft_otlp *otlp_new(const struct weft_config *cfg, const bool want[2], bool quiet)
{
	const struct weft_curl *c = NULL;
	bool unsafe = weft_otlp_in_libcurl();
	struct weft_otlp *o;
	int err;

	if (!unsafe) {
		weft_otlp_in_libcurl_set(true);
		c = weft_curl_load();
		weft_otlp_in_libcurl_set(false);
		if (!c) {
			weft_warn("%s%s", weft_curl_error(),
				  quiet ? "" : "; writing the file output instead");
			return NULL;
		}
	}
	o = weft_zalloc(sizeof(*o));
	if (!o)
		return NULL;
	o->c = c;
	o->quiet = quiet;
	o->fork_unsafe = unsafe;
	o->pid = getpid();
	o->request_timeout_ns = cfg->otlp_timeout_ns;
	o->exit.budget_ns = exit_budget(cfg);
	snprintf(o->certificate, sizeof(o->certificate), "%s", cfg->certificate);
	snprintf(o->user_agent, sizeof(o->user_agent), "weft/%s", WEFT_VERSION);
	if (unsafe) {
		o->has[0] = want[0];
		o->has[1] = want[1];
		return o;
	}
	if (cfg->gzip) {
		weft_otlp_in_libcurl_set(true);
		o->gz = weft_gzip_new(); /* NULL: uncompressed, after a warning */
		weft_otlp_in_libcurl_set(false);
	}
	err = open_channels(o, cfg, want);
	if (err) {
		if (err == -ENOMEM)
			weft_warn("otlp: out of memory%s",
				  quiet ? "" : "; writing the file output instead");
		/* Nothing connected yet: the partial sink is simply leaked. */
		return NULL;
	}
	return o;
}

struct weft_sink *weft_otlp_open(const struct weft_config *cfg)
{
	const bool want[2] = { (cfg->traces_out & WEFT_OUT_OTLP) != 0,
			       (cfg->metrics_out & WEFT_OUT_OTLP) != 0 };
	struct weft_otlp *o;

	retire_parent_sink();
	o = otlp_new(cfg, want, false);
	if (!o)
		return NULL;
	o->sink.name = "otlp";
	o->sink.export_spans = otlp_export_spans;
	o->sink.export_metrics = otlp_export_metrics;
	o->sink.shutdown = otlp_shutdown;
	o->sink.priv = o;
	current = o;
	return &o->sink;
}

/* --- weft-send ------------------------------------------------------------ */

struct weft_otlp *weft_otlp_client_open(const struct weft_config *cfg)
{
	const bool want[2] = { true, true };

	return otlp_new(cfg, want, true);
}

int weft_otlp_client_send(struct weft_otlp *o, int signal, const uint8_t *body, size_t len,
			  char *why, size_t wlen)
{
	struct weft_otlp_channel *ch = &o->ch[signal ? 1 : 0];
	struct weft_otlp_result r;
	uint8_t *copy = weft_alloc(len);
	int err;

	if (!copy) {
		snprintf(why, wlen, "out of memory");
		return -ENOMEM;
	}
	memcpy(copy, body, len);
	err = deliver(o, ch, copy, len, 0, &r);
	if (err)
		snprintf(why, wlen, "%s: %s%s", ch->shown, r.f.why,
			 r.final ? " (not retried)" : "");
	return err;
}
