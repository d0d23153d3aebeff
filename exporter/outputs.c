/*
 * Opening the configured outputs (see outputs.h), and where the file output's
 * file is: WEFT_OUTPUT expanded, relative to the directory agent start opened
 * (agent/fd.h) when the pattern's directory has no `%`, its last component
 * shortened to fit a file name; else a private fallback directory.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/agent.h"
#include "agent/fd.h"
#include "agent/format.h"
#include "agent/log.h"
#include "exporter/otlp_http.h"
#include "exporter/outfile.h"
#include "exporter/outputs.h"
#include "exporter/resource.h"

void weft_outputs_expand_name(const char *pattern, const char *service, int pid, char *out,
			      size_t outlen)
{
	char cut[256];
	size_t n = service ? strlen(service) : 0;

	weft_config_expand_path(pattern, service, pid, out, outlen);
	if (strlen(out) <= WEFT_OUTFILE_NAME_MAX || !strstr(pattern, "%n") || n == 0)
		return;
	/* Too long for a file name: shorten the service name, never the pid. */
	if (n >= sizeof(cut))
		n = sizeof(cut) - 1;
	while (n > 1) {
		memcpy(cut, service, --n);
		cut[n] = '\0';
		weft_config_expand_path(pattern, cut, pid, out, outlen);
		if (strlen(out) <= WEFT_OUTFILE_NAME_MAX)
			return;
	}
}

int weft_outputs_private_dir(char *out, size_t len)
{
	const char *runtime = getenv("XDG_RUNTIME_DIR"), *tmp = getenv("TMPDIR");
	struct stat st;

	/* $XDG_RUNTIME_DIR: the user's own, 0700 by specification; checked all the same. */
	if (runtime && runtime[0] == '/' && lstat(runtime, &st) == 0 && S_ISDIR(st.st_mode) &&
	    st.st_uid == geteuid() && !(st.st_mode & 077)) {
		weft_copy(out, len, runtime);
		return 0;
	}
	if (!tmp || tmp[0] != '/')
		tmp = "/tmp";
	weft_format(out, len, "%s/weft-%u", tmp, (unsigned)geteuid());
	if (mkdir(out, 0700) != 0 && errno != EEXIST)
		return -errno;
	/* Someone may have made it first: only a directory of ours, closed to others. */
	if (lstat(out, &st) != 0)
		return -errno;
	if (!S_ISDIR(st.st_mode) || st.st_uid != geteuid() || (st.st_mode & 077))
		return -EACCES;
	return 0;
}

/* The file output's fallback: weft-<service>-<pid>.jsonl in the private directory. */
static int file_fallback(char *path, size_t len)
{
	char dir[PATH_MAX], name[WEFT_OUTFILE_NAME_MAX + 1];
	int r = weft_outputs_private_dir(dir, sizeof(dir));

	if (r < 0) {
		weft_warn("no private directory for a fallback file (%s): %s", dir,
			  strerrordesc_np(-r));
		return r;
	}
	weft_outputs_expand_name("weft-%n-%p.jsonl", weft_resource_service_name(), getpid(), name,
				 sizeof(name));
	weft_format(path, len, "%s/%s", dir, name);
	return 0;
}

static struct weft_sink *open_file_sink(struct weft_outputs *o)
{
	const char *pattern = weft_cfg.output_path, *slash = strrchr(pattern, '/');
	const char *service = weft_resource_service_name();
	char dpat[WEFT_CONFIG_STR], dexp[WEFT_CONFIG_STR + 64], name[WEFT_OUTFILE_NAME_MAX + 64];
	char at[PATH_MAX];
	const char *dpath = weft_fd_output_dir_path(), *where;
	struct weft_outfile *f;
	int dir = weft_fd_output_dir();

	if (o->file)
		return o->file;
	/*
	 * The directory part as the pattern gives it (expanded only when there
	 * is no directory descriptor: the agent takes one only for a part
	 * without `%`), then the file name, shortened to fit.
	 */
	weft_format(dpat, sizeof(dpat), "%.*s", slash ? (int)(slash - pattern + 1) : 0, pattern);
	weft_config_expand_path(dpat, service, getpid(), dexp, sizeof(dexp));
	weft_outputs_expand_name(slash ? slash + 1 : pattern, service, getpid(), name,
				 sizeof(name));
	if (weft_format(o->file_path, sizeof(o->file_path), "%s%s", dexp, name) >=
	    (int)sizeof(o->file_path))
		weft_warn("output path %s%s is too long", dexp, name);
	/*
	 * By the directory's path as it was at start (agent/fd.h), whatever the
	 * working directory is now, and through its descriptor when weft holds
	 * one. Nothing is opened until there is a line to write.
	 */
	where = o->file_path;
	if (dpath[0] && weft_format(at, sizeof(at), "%s/%s", dpath, name) < (int)sizeof(at))
		where = at;
	else
		dir = -1;
	f = weft_outfile_new(dir, where, o->file_path, weft_cfg.output_max_size, file_fallback);
	o->outfile = f;
	o->file = f ? weft_jsonl_open_file(f) : NULL;
	if (!o->file) {
		o->outfile = NULL;
		weft_warn("cannot write %s: %s", o->file_path, strerrordesc_np(ENOMEM));
	}
	return o->file;
}

static size_t open_set(struct weft_outputs *o, unsigned outputs, struct weft_sink **sinks)
{
	size_t n = 0;

	if (outputs & WEFT_OUT_OTLP) {
		/* One sink serves both signals; opened once (again in a forked child). */
		if (!o->otlp && !o->otlp_failed) {
			o->otlp = weft_otlp_open(&weft_cfg);
			o->otlp_failed = !o->otlp;
		}
		if (o->otlp)
			sinks[n++] = o->otlp;
		else
			outputs |= WEFT_OUT_FILE; /* weft_otlp_open said why */
	}
	if (outputs & WEFT_OUT_FILE) {
		struct weft_sink *s = open_file_sink(o);
		if (s)
			sinks[n++] = s;
	}
	if (outputs & WEFT_OUT_CONSOLE) {
		if (!o->console)
			o->console = weft_console_open(WEFT_CONSOLE_STDERR);
		if (o->console)
			sinks[n++] = o->console;
	}
	return n;
}

void weft_outputs_open(struct weft_outputs *o)
{
	o->n_traces = open_set(o, weft_cfg.traces_out, o->traces);
	o->n_metrics = open_set(o, weft_cfg.metrics_out, o->metrics);
}

uint64_t weft_outputs_rotated_spans(const struct weft_outputs *o)
{
	return o->outfile ? weft_outfile_rotated_spans(o->outfile) : 0;
}

const char *weft_outputs_file_path(const struct weft_outputs *o)
{
	return o->outfile ? weft_outfile_path(o->outfile) : o->file_path;
}

void weft_outputs_shutdown(struct weft_outputs *o)
{
	for (size_t k = 0; k < o->n_traces; k++) {
		bool shared = false;

		if (!o->traces[k]->shutdown)
			continue;
		for (size_t j = 0; j < o->n_metrics; j++)
			shared |= o->metrics[j] == o->traces[k];
		if (!shared)
			o->traces[k]->shutdown(o->traces[k]);
	}
	for (size_t k = 0; k < o->n_metrics; k++)
		if (o->metrics[k]->shutdown)
			o->metrics[k]->shutdown(o->metrics[k]);
	o->outfile = NULL;
}
