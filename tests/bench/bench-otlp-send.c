/*
 * bench-otlp-send: throughput of the otlp output, on one core.
 *
 *     bench-otlp-send [SECONDS] [--url URL]
 *
 * Batches of 512 spans shaped like weft's are
 *   1. encoded (weft_otlp_encode_traces), shaped like a thread span (four
 *      attributes) and like a `wait join` span (six attributes and a link),
 *      and
 *   2. encoded (as wait spans) and sent through the otlp sink (weft_otlp_open, the code
 *      libweft.so uses) to a receiver that discards them, without and with
 *      gzip.
 * The sending thread is pinned to CPU 0 and the built-in receiver (a small
 * HTTP/1.1 server in a child process that reads each request and answers 200
 * with an empty body) to CPU 1 when the machine has two, so the figures are
 * the exporter's own cost. --url sends to another receiver instead (e.g.
 * `node tests/otlp/receiver.js --discard`), to compare.
 *
 * Prints spans per second (wall clock) and the sending thread's CPU time per
 * 1,000 spans (CLOCK_THREAD_CPUTIME_ID), which on a busy machine is the
 * steadier figure: 1 ms per 1,000 spans is 1,000,000 spans per CPU-second.
 * Targets: 1,000,000 spans/s encoded, 200,000 spans/s delivered over loopback.
 */
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "agent/alloc.h"
#include "agent/config.h"
#include "exporter/otlp_encode.h"
#include "exporter/otlp_http.h"

enum { BATCH = 512 };

static struct weft_span spans[BATCH];
static struct weft_attr attrs[BATCH][6];
static struct weft_attr link_attr[1];
static struct weft_span_link links[BATCH];
static char objects[BATCH][24];

static double now_s(clockid_t clk)
{
	struct timespec ts;

	clock_gettime(clk, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void pin(int cpu)
{
	cpu_set_t set;

	if (sysconf(_SC_NPROCESSORS_ONLN) < 2)
		return;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	sched_setaffinity(0, sizeof(set), &set);
}

static const struct weft_attr res_attrs[] = {
	{ .key = "service.name", .type = WEFT_VALUE_STRING, .v.s = "bench" },
	{ .key = "service.instance.id",
	  .type = WEFT_VALUE_STRING,
	  .v.s = "6f1c2b9e-1d7a-4a3b-9f2e-0c8d7e6f5a4b" },
	{ .key = "process.pid", .type = WEFT_VALUE_INT, .v.i = 4242 },
	{ .key = "process.executable.name", .type = WEFT_VALUE_STRING, .v.s = "bench-otlp-send" },
	{ .key = "host.name", .type = WEFT_VALUE_STRING, .v.s = "localhost" },
	{ .key = "telemetry.sdk.name", .type = WEFT_VALUE_STRING, .v.s = "weft" },
	{ .key = "telemetry.sdk.version", .type = WEFT_VALUE_STRING, .v.s = WEFT_VERSION },
};

static const struct weft_resource resource = {
	.attrs = res_attrs,
	.n_attrs = sizeof(res_attrs) / sizeof(res_attrs[0]),
	.scope_name = "weft",
	.scope_version = WEFT_VERSION,
};

static void make_spans(void)
{
	uint64_t t = 1700000000000000000ull, x = 0x9e3779b97f4a7c15ull;

	link_attr[0] = (struct weft_attr){ .key = "weft.link.kind",
					   .type = WEFT_VALUE_STRING,
					   .v.s = "join" };
	for (int i = 0; i < BATCH; i++) {
		struct weft_span *s = &spans[i];

		for (int k = 0; k < 16; k++)
			s->trace_id.b[k] = (uint8_t)(0x40 + k);
		for (int k = 0; k < 8; k++) {
			x ^= x << 13, x ^= x >> 7, x ^= x << 17;
			s->span_id.b[k] = (uint8_t)x;
			s->parent_span_id.b[k] = (uint8_t)(x >> 8);
			links[i].span_id.b[k] = (uint8_t)(x >> 16);
		}
		links[i].trace_id = s->trace_id;
		links[i].attrs = link_attr;
		links[i].n_attrs = 1;
		snprintf(objects[i], sizeof(objects[i]), "0x7f%010x", (unsigned)(x & 0xffffffffu));
		attrs[i][0] = (struct weft_attr){ .key = "thread.id",
						  .type = WEFT_VALUE_INT,
						  .v.i = 10000 + i };
		attrs[i][1] = (struct weft_attr){ .key = "thread.name",
						  .type = WEFT_VALUE_STRING,
						  .v.s = "worker-3" };
		attrs[i][2] = (struct weft_attr){ .key = "weft.wait.kind",
						  .type = WEFT_VALUE_STRING,
						  .v.s = "join" };
		attrs[i][3] = (struct weft_attr){ .key = "code.function.name",
						  .type = WEFT_VALUE_STRING,
						  .v.s = "dispatcher" };
		attrs[i][4] = (struct weft_attr){ .key = "weft.object",
						  .type = WEFT_VALUE_STRING,
						  .v.s = objects[i] };
		attrs[i][5] = (struct weft_attr){ .key = "weft.target.thread.id",
						  .type = WEFT_VALUE_INT,
						  .v.i = 20000 + i };
		s->flags = 1;
		s->name = "wait join";
		s->kind = WEFT_SPAN_KIND_INTERNAL;
		s->start_unix_nano = t + (uint64_t)i * 1000;
		s->end_unix_nano = t + (uint64_t)i * 1000 + 2500000;
		s->attrs = attrs[i];
		s->n_attrs = 6;
		s->links = &links[i];
		s->n_links = 1;
	}
}

/* --- The discarding receiver -------------------------------------------- */

static void *serve_conn(void *arg)
{
	static const char ok[] = "HTTP/1.1 200 OK\r\nContent-Type: application/x-protobuf\r\n"
				 "Content-Length: 0\r\n\r\n";
	int fd = (int)(intptr_t)arg;
	size_t cap = 1 << 20, have = 0;
	char *buf = malloc(cap);

	for (;;) {
		char *end;
		size_t head, body = 0;
		ssize_t n;

		while (!(end = memmem(buf, have, "\r\n\r\n", 4))) {
			if (have == cap || (n = read(fd, buf + have, cap - have)) <= 0)
				goto out;
			have += (size_t)n;
		}
		head = (size_t)(end - buf) + 4;
		for (char *p = buf; p < end; p = strstr(p, "\r\n") + 2) {
			if (strncasecmp(p, "content-length:", 15) == 0)
				body = strtoul(p + 15, NULL, 10);
			if (!strstr(p, "\r\n"))
				break;
		}
		while (have < head + body) {
			size_t want = head + body - have;

			/* Discard what does not fit: only the count matters. */
			if (have == cap) {
				have = head;
				body = want;
				continue;
			}
			n = read(fd, buf + have, cap - have < want ? cap - have : want);
			if (n <= 0)
				goto out;
			have += (size_t)n;
		}
		memmove(buf, buf + head + body, have - head - body);
		have -= head + body;
		if (write(fd, ok, sizeof(ok) - 1) != (ssize_t)(sizeof(ok) - 1))
			goto out;
	}
out:
	close(fd);
	free(buf);
	return NULL;
}

static pid_t start_receiver(int *port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(a);
	int one = 1, lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	pid_t pid;

	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&a, sizeof(a)) != 0 || listen(lfd, 16) != 0 ||
	    getsockname(lfd, (struct sockaddr *)&a, &len) != 0) {
		perror("bench-otlp-send: receiver");
		exit(1);
	}
	*port = ntohs(a.sin_port);
	pid = fork();
	if (pid == 0) {
		pin(1);
		alarm(600); /* never outlives a stuck benchmark */
		for (;;) {
			int fd = accept(lfd, NULL, NULL);
			pthread_t t;

			if (fd < 0)
				continue;
			pthread_create(&t, NULL, serve_conn, (void *)(intptr_t)fd);
			pthread_detach(t);
		}
	}
	close(lfd);
	return pid;
}

/* --- The measurements ---------------------------------------------------- */

static void bench_encode(const char *what, double seconds)
{
	double w0 = now_s(CLOCK_MONOTONIC), c0 = now_s(CLOCK_THREAD_CPUTIME_ID), w1;
	size_t n = 0, bytes = 0;

	do {
		uint8_t *buf;
		size_t len;

		if (weft_otlp_encode_traces(&resource, spans, BATCH, &buf, &len) != 0) {
			fprintf(stderr, "bench-otlp-send: encode failed\n");
			exit(1);
		}
		weft_free(buf);
		n += BATCH;
		bytes += len;
		w1 = now_s(CLOCK_MONOTONIC);
	} while (w1 - w0 < seconds);
	printf("encode%-8s %10.0f spans/s  %6.2f ms CPU per 1000 spans  (%zu bytes per span)\n",
	       what, (double)n / (w1 - w0),
	       (now_s(CLOCK_THREAD_CPUTIME_ID) - c0) * 1e3 / ((double)n / 1e3), bytes / n);
}

static const char *bench_env[16][2];

static const char *bench_getenv(const char *name)
{
	for (int i = 0; bench_env[i][0]; i++)
		if (strcmp(bench_env[i][0], name) == 0)
			return bench_env[i][1];
	return NULL;
}

static void bench_send(const char *url, bool gzip, double seconds)
{
	struct weft_config cfg;
	struct weft_sink *sink;
	double w0, c0, w1;
	size_t n = 0, failed = 0;

	bench_env[0][0] = "OTEL_EXPORTER_OTLP_ENDPOINT";
	bench_env[0][1] = url;
	bench_env[1][0] = "OTEL_EXPORTER_OTLP_COMPRESSION";
	bench_env[1][1] = gzip ? "gzip" : "none";
	weft_config_load_from(&cfg, bench_getenv, NULL);
	sink = weft_otlp_open(&cfg);
	if (!sink) {
		fprintf(stderr, "bench-otlp-send: cannot open the otlp sink\n");
		exit(1);
	}
	/* One warm-up request: the connection, libcurl's first-use costs. */
	sink->export_spans(sink, &resource, spans, BATCH);
	w0 = now_s(CLOCK_MONOTONIC);
	c0 = now_s(CLOCK_THREAD_CPUTIME_ID);
	do {
		if (sink->export_spans(sink, &resource, spans, BATCH) != 0)
			failed += BATCH;
		n += BATCH;
		w1 = now_s(CLOCK_MONOTONIC);
	} while (w1 - w0 < seconds);
	printf("send%-10s %10.0f spans/s  %6.2f ms CPU per 1000 spans%s\n", gzip ? " (gzip):" : ":",
	       (double)(n - failed) / (w1 - w0),
	       (now_s(CLOCK_THREAD_CPUTIME_ID) - c0) * 1e3 / ((double)n / 1e3),
	       failed ? "  (some batches FAILED)" : "");
	sink->shutdown(sink);
}

int main(int argc, char **argv)
{
	double seconds = 2;
	const char *url = NULL;
	char own[64];
	pid_t receiver = 0;
	int port;

	/* The core's constructor would start weft's own agent in this process. */
	if (!getenv("OTEL_SDK_DISABLED")) {
		setenv("OTEL_SDK_DISABLED", "true", 1);
		execv("/proc/self/exe", argv);
	}
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--url") == 0 && i + 1 < argc)
			url = argv[++i];
		else
			seconds = atof(argv[i]);
	}
	if (seconds <= 0)
		seconds = 2;
	if (!url) {
		receiver = start_receiver(&port);
		snprintf(own, sizeof(own), "http://127.0.0.1:%d", port);
		url = own;
	}
	pin(0);
	make_spans();
	printf("batches of %d spans, %.1f s each, to %s\n", BATCH, seconds, url);
	/* A thread span's shape first: four attributes, no link. */
	for (int i = 0; i < BATCH; i++) {
		spans[i].n_attrs = 4;
		spans[i].n_links = 0;
	}
	bench_encode(" (thread):", seconds);
	for (int i = 0; i < BATCH; i++) {
		spans[i].n_attrs = 6;
		spans[i].n_links = 1;
	}
	bench_encode(" (wait):", seconds);
	bench_send(url, false, seconds);
	bench_send(url, true, seconds);
	if (receiver) {
		kill(receiver, SIGKILL);
		waitpid(receiver, NULL, 0);
	}
	return 0;
}
