#include <stdio.h>
#include <unistd.h>

#include "agent/agent.h"
#include "agent/log.h"
#include "exporter/otlp_http.h"
#include "exporter/outputs.h"
#include "exporter/resource.h"

static struct weft_sink *open_file_sink(struct weft_outputs *o)
{
	char path[WEFT_CONFIG_STR + 64];

	if (o->file)
		return o->file;
	weft_config_expand_path(weft_cfg.output_path, weft_resource_service_name(), getpid(), path,
				sizeof(path));
	o->file = weft_jsonl_open(path);
	if (o->file) {
		snprintf(o->file_path, sizeof(o->file_path), "%s", path);
		return o->file;
	}
	/* Nothing recorded is silently lost: fall back to a private file in /tmp. */
	weft_config_expand_path("/tmp/weft-%n-%p.jsonl", weft_resource_service_name(), getpid(),
				path, sizeof(path));
	o->file = weft_jsonl_open(path);
	if (o->file) {
		weft_warn("writing telemetry to %s instead", path);
		snprintf(o->file_path, sizeof(o->file_path), "%s", path);
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
			o->console = weft_console_open(STDERR_FILENO);
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
}
