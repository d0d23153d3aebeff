/*
 * weft-send: delivers spool files (otlp_spool.h) with the otlp output.
 *
 *     weft-send FILE...
 *
 * Each file's requests are sent, in order, to the endpoints the
 * OTEL_EXPORTER_OTLP_* variables name (as for a program under weft: base or
 * per-signal endpoint, headers, compression, timeout, certificate), with the
 * same retry policy, each request bounded by OTEL_BSP_EXPORT_TIMEOUT (spans)
 * or OTEL_METRIC_EXPORT_TIMEOUT (metrics). A file whose requests were all
 * delivered is removed. Otherwise it is kept holding only the requests that
 * were not (rewritten through a new file renamed over it), so that sending it
 * again sends nothing twice. One line per file on stdout (delivered) or
 * stderr (not); the exit status is 0 when every file was delivered, 1 when
 * some were not, 2 on a usage error.
 *
 * The program links weft's core, whose constructor would start weft's own
 * agent in this process: it first re-executes itself with OTEL_SDK_DISABLED
 * set, and ignores that variable for its own configuration.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent/alloc.h"
#include "agent/config.h"
#include "agent/log.h"
#include "exporter/otlp_http.h"
#include "exporter/otlp_spool.h"

/* weft's allocator is jemalloc's extended API; here, the C library's. */
void *mallocx(size_t size, int flags)
{
	size_t align = (size_t)1 << (flags & 0x3f);
	void *p;

	/* jemalloc's low six flag bits are lg(alignment); zero means none asked. */
	if (flags & 0x3f)
		p = aligned_alloc(align, (size + align - 1) & ~(align - 1));
	else
		p = malloc(size);
	if (p && (flags & WEFT_MALLOCX_ZERO))
		memset(p, 0, size);
	return p;
}

void *rallocx(void *ptr, size_t size, int flags)
{
	return realloc(ptr, size);
}

void dallocx(void *ptr, int flags)
{
	free(ptr);
}

/* The records of data not delivered, rewritten into path (through path.tmp). */
static int keep_only(const char *path, const uint8_t *data, size_t len, const bool *failed)
{
	char tmp[WEFT_OTLP_SPOOL_PATH + 16];
	struct weft_otlp_spooled rec;
	size_t pos = WEFT_OTLP_SPOOL_HEAD;
	int fd, err = 0;

	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	unlink(tmp);
	fd = weft_otlp_spool_create(tmp);
	if (fd < 0)
		return fd;
	for (size_t i = 0; !err && weft_otlp_spool_next(data, len, &pos, &rec) == 1; i++)
		if (failed[i])
			err = weft_otlp_spool_append(fd, rec.signal, rec.body, rec.len, rec.items);
	if (close(fd) != 0 && !err)
		err = -errno;
	if (!err && rename(tmp, path) != 0)
		err = -errno;
	if (err)
		unlink(tmp);
	return err;
}

/* "7 spans and 1 metrics request". */
static void describe(char *out, size_t outlen, const size_t items[2], const size_t records[2])
{
	int o = 0;

	out[0] = '\0';
	if (records[0])
		o = snprintf(out, outlen, "%zu span%s", items[0], items[0] == 1 ? "" : "s");
	if (records[1] && o >= 0 && (size_t)o < outlen)
		snprintf(out + o, outlen - (size_t)o, "%s%zu metrics request%s", o ? " and " : "",
			 records[1], records[1] == 1 ? "" : "s");
	if (!records[0] && !records[1])
		snprintf(out, outlen, "nothing");
}

static bool send_file(struct weft_otlp *o, const char *path)
{
	size_t len, pos = WEFT_OTLP_SPOOL_HEAD, n = 0, items[2] = { 0 }, recs[2] = { 0 };
	size_t fitems[2] = { 0 }, frecs[2] = { 0 };
	struct weft_otlp_spooled rec;
	char why[400] = "", sent[96], kept[96];
	bool *failed = NULL;
	uint8_t *data;
	int err, rc;

	err = weft_otlp_spool_load(path, &data, &len);
	if (err) {
		fprintf(stderr, "weft-send: %s: %s\n", path,
			err == -EBADMSG ? "not a weft spool file" : strerror(-err));
		return false;
	}
	while ((rc = weft_otlp_spool_next(data, len, &pos, &rec)) == 1)
		n++;
	if (rc < 0) {
		fprintf(stderr, "weft-send: %s: damaged at byte %zu; nothing sent, file kept\n",
			path, pos);
		free(data);
		return false;
	}
	failed = calloc(n ? n : 1, sizeof(*failed));
	if (!failed) {
		fprintf(stderr, "weft-send: %s: out of memory\n", path);
		free(data);
		return false;
	}
	pos = WEFT_OTLP_SPOOL_HEAD;
	for (size_t i = 0; weft_otlp_spool_next(data, len, &pos, &rec) == 1; i++) {
		char w[400];

		if (weft_otlp_client_send(o, rec.signal, rec.body, rec.len, w, sizeof(w)) == 0) {
			items[rec.signal] += rec.items;
			recs[rec.signal]++;
			continue;
		}
		failed[i] = true;
		fitems[rec.signal] += rec.items;
		frecs[rec.signal]++;
		if (!why[0])
			snprintf(why, sizeof(why), "%s", w);
	}
	describe(sent, sizeof(sent), items, recs);
	describe(kept, sizeof(kept), fitems, frecs);
	if (!frecs[0] && !frecs[1]) {
		if (unlink(path) != 0)
			fprintf(stderr, "weft-send: %s: delivered %s, but cannot remove it: %s\n",
				path, sent, strerror(errno));
		else
			printf("weft-send: %s: delivered %s; removed\n", path, sent);
	} else {
		err = recs[0] || recs[1] ? keep_only(path, data, len, failed) : 0;
		fprintf(stderr, "weft-send: %s: could not deliver %s (%s); delivered %s; %s\n",
			path, kept, why, sent,
			err ? "could not rewrite the file, kept as it was (sending it again "
			      "repeats what was delivered)"
			    : "the file keeps what was not delivered");
	}
	free(failed);
	free(data);
	return !frecs[0] && !frecs[1];
}

int main(int argc, char **argv)
{
	struct weft_config cfg;
	struct weft_otlp *o;
	bool ok = true;

	/* The core's constructor would start weft's own agent in this process. */
	if (!getenv("OTEL_SDK_DISABLED") || strcmp(getenv("OTEL_SDK_DISABLED"), "true") != 0) {
		setenv("OTEL_SDK_DISABLED", "true", 1);
		execv("/proc/self/exe", argv);
		fprintf(stderr, "weft-send: cannot re-execute itself: %s\n", strerror(errno));
		return 1;
	}
	if (argc < 2 || argv[1][0] == '-') {
		fprintf(stderr, "usage: weft-send FILE...\n"
				"Delivers weft spool files (weft-<service>-<pid>.spool) to the "
				"OTEL_EXPORTER_OTLP_* endpoint.\n");
		return 2;
	}
	weft_config_load(&cfg);
	weft_log_set_level(cfg.log_level);
	o = weft_otlp_client_open(&cfg);
	if (!o)
		return 1;
	for (int i = 1; i < argc; i++)
		ok &= send_file(o, argv[i]);
	return ok ? 0 : 1;
}
