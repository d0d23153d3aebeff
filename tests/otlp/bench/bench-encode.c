/*
 * Throughput of weft_otlp_encode_traces on one core: batches of typical weft
 * spans (a wait span with six attributes, one in eight with a link) encoded
 * over and over for a few seconds. Prints spans/s and bytes per span.
 *
 *   bench-encode [SECONDS [BATCH]]      (defaults: 2 s, 512 spans)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "agent/alloc.h"
#include "exporter/model.h"
#include "exporter/otlp_encode.h"

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static const struct weft_attr resource_attrs[] = {
	{ .key = "service.name", .type = WEFT_VALUE_STRING, .v.s = "bench" },
	{ .key = "process.pid", .type = WEFT_VALUE_INT, .v.i = 4242 },
	{ .key = "host.name", .type = WEFT_VALUE_STRING, .v.s = "bench-host" },
	{ .key = "telemetry.sdk.name", .type = WEFT_VALUE_STRING, .v.s = "weft" },
	{ .key = "telemetry.sdk.version", .type = WEFT_VALUE_STRING, .v.s = "0.1.0" },
};

static const struct weft_resource resource = {
	.attrs = resource_attrs,
	.n_attrs = 5,
	.scope_name = "weft",
	.scope_version = "0.1.0",
};

static const struct weft_attr span_attrs[] = {
	{ .key = "thread.id", .type = WEFT_VALUE_INT, .v.i = 4243 },
	{ .key = "thread.name", .type = WEFT_VALUE_STRING, .v.s = "worker-3" },
	{ .key = "weft.wait.kind", .type = WEFT_VALUE_STRING, .v.s = "mutex" },
	{ .key = "code.function.name", .type = WEFT_VALUE_STRING, .v.s = "queue_push" },
	{ .key = "weft.object", .type = WEFT_VALUE_STRING, .v.s = "0x55d0c0ffee10" },
	{ .key = "weft.holder.thread.id", .type = WEFT_VALUE_INT, .v.i = 4250 },
};

static const struct weft_attr link_attrs[] = {
	{ .key = "weft.link.kind", .type = WEFT_VALUE_STRING, .v.s = "holder" },
};

int main(int argc, char **argv)
{
	double seconds = argc > 1 ? atof(argv[1]) : 2.0;
	size_t batch = argc > 2 ? strtoul(argv[2], NULL, 10) : 512;
	struct weft_span *spans = calloc(batch, sizeof(*spans));
	struct weft_span_link *links = calloc(batch, sizeof(*links));
	size_t total_spans = 0, total_bytes = 0;
	double start, elapsed;

	if (!spans || !links || batch == 0)
		return 1;
	for (size_t i = 0; i < batch; i++) {
		struct weft_span *s = &spans[i];
		for (int k = 0; k < 16; k++)
			s->trace_id.b[k] = (uint8_t)(0x11 * (k + 1));
		memcpy(s->span_id.b, &i, sizeof(i) < 8 ? sizeof(i) : 8);
		s->span_id.b[7] = 0xab;
		s->parent_span_id.b[0] = 0x42;
		s->flags = 1;
		s->name = "wait mutex";
		s->kind = WEFT_SPAN_KIND_INTERNAL;
		s->start_unix_nano = UINT64_C(1700000000000000000) + i * 1000;
		s->end_unix_nano = s->start_unix_nano + 25000;
		s->attrs = span_attrs;
		s->n_attrs = 6;
		if (i % 8 == 0) {
			links[i].trace_id = s->trace_id;
			links[i].span_id.b[0] = 0x77;
			links[i].attrs = link_attrs;
			links[i].n_attrs = 1;
			s->links = &links[i];
			s->n_links = 1;
		}
	}

	start = now();
	do {
		for (int r = 0; r < 16; r++) {
			uint8_t *out;
			size_t len;

			if (weft_otlp_encode_traces(&resource, spans, batch, &out, &len)) {
				fprintf(stderr, "encode failed\n");
				return 1;
			}
			total_spans += batch;
			total_bytes += len;
			weft_free(out);
		}
		elapsed = now() - start;
	} while (elapsed < seconds);

	printf("otlp encode: %.0f spans/s (%zu spans in %.2f s, batch %zu, %.1f bytes/span)\n",
	       (double)total_spans / elapsed, total_spans, elapsed, batch,
	       (double)total_bytes / (double)total_spans);
	free(spans);
	free(links);
	return 0;
}
