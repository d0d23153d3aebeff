/*
 * The Prometheus text rendering (exporter/prometheus_text.c): names with
 * their unit and type suffixes, label names and values, histograms,
 * target_info, compared byte for byte with what the format and the
 * OpenTelemetry compatibility rules say.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <pthread.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "agent/agent.h"
#include "agent/clock.h"
#include "agent/consumer.h"
#include "exporter/json.h"
#include "exporter/prometheus.h"
#include "harness.h"

static void expect_name(const char *name, const char *unit, enum weft_metric_type type,
			bool monotonic, const char *want)
{
	struct weft_metric m = { .name = name, .unit = unit, .type = type, .monotonic = monotonic };
	char out[WEFT_PROMETHEUS_NAME_MAX];

	weft_prometheus_name(&m, out, sizeof(out));
	expect_str(out, want);
}

static void test_names(void)
{
	/* weft's own (TELEMETRY.md), as README lists them. */
	expect_name("process.thread.count", "{thread}", WEFT_METRIC_SUM, false,
		    "process_thread_count");
	expect_name("weft.thread.created", "{thread}", WEFT_METRIC_SUM, true,
		    "weft_thread_created_total");
	expect_name("weft.wait.duration", "s", WEFT_METRIC_HISTOGRAM, false,
		    "weft_wait_duration_seconds");
	expect_name("weft.channel.io", "By", WEFT_METRIC_SUM, true, "weft_channel_io_bytes_total");
	expect_name("weft.channel.queue.depth", "By", WEFT_METRIC_GAUGE, false,
		    "weft_channel_queue_depth_bytes");
	expect_name("weft.thread.time", "s", WEFT_METRIC_SUM, true,
		    "weft_thread_time_seconds_total");
	/* Units: words, ratios, rates, annotations, unknown units. */
	expect_name("http.server.duration", "ms", WEFT_METRIC_HISTOGRAM, false,
		    "http_server_duration_milliseconds");
	expect_name("cpu.utilization", "1", WEFT_METRIC_GAUGE, false, "cpu_utilization_ratio");
	expect_name("net.rate", "By/s", WEFT_METRIC_GAUGE, false, "net_rate_bytes_per_second");
	expect_name("speed", "m/s", WEFT_METRIC_GAUGE, false, "speed_meters_per_second");
	expect_name("x", "/s", WEFT_METRIC_GAUGE, false, "x_per_second");
	expect_name("packets", "{packet}/s", WEFT_METRIC_GAUGE, false, "packets_per_second");
	expect_name("weird..name--x", "{a}b{c}", WEFT_METRIC_GAUGE, false, "weird_name_x_b");
	expect_name("mem", "MiBy", WEFT_METRIC_GAUGE, false, "mem_mebibytes");
	expect_name("temp", "Cel", WEFT_METRIC_GAUGE, false, "temp_celsius");
	expect_name("odd", "foo.bar", WEFT_METRIC_GAUGE, false, "odd_foo_bar");
	/* The unit is not repeated, nor _total. */
	expect_name("latency.seconds", "s", WEFT_METRIC_GAUGE, false, "latency_seconds");
	expect_name("seconds.spent", "s", WEFT_METRIC_SUM, true, "seconds_spent_total");
	expect_name("jobs_total", "{job}", WEFT_METRIC_SUM, true, "jobs_total");
	expect_name("job.totals", "", WEFT_METRIC_SUM, true, "job_totals_total");
	/* Characters: a leading digit, colons kept, non-ASCII bytes as one `_`. */
	expect_name("9lives", "", WEFT_METRIC_GAUGE, false, "_9lives");
	expect_name("a:b.c", "", WEFT_METRIC_GAUGE, false, "a:b_c");
	expect_name("\xc3\xa9t\xc3\xa9", "", WEFT_METRIC_GAUGE, false, "_t_");
	expect_name("up.down", "{x}", WEFT_METRIC_SUM, false, "up_down");
}

/* Text of a render, NUL-terminated, in buf. */
static const char *render(char *buf, size_t len, const struct weft_resource *res,
			  const struct weft_metric *m, size_t n)
{
	struct weft_json j;

	weft_json_init(&j);
	expect_int(weft_prometheus_render(&j, res, m, n), 0);
	expect_true(j.len < len);
	if (j.len)
		memcpy(buf, j.buf, j.len < len ? j.len : len - 1);
	buf[j.len < len ? j.len : len - 1] = '\0';
	weft_json_free(&j);
	return buf;
}

static void test_render(void)
{
	static const char *const args[] = { "prog", "--x=\"y\"" };
	const struct weft_attr res_attrs[] = {
		{ .key = "service.name", .type = WEFT_VALUE_STRING, .v.s = "svc" },
		{ .key = "process.pid", .type = WEFT_VALUE_INT, .v.i = 42 },
		{ .key = "process.command_args",
		  .type = WEFT_VALUE_STRING_ARRAY,
		  .v.strs = { args, 2 } },
		{ .key = "a_b", .type = WEFT_VALUE_STRING, .v.s = "second" },
		{ .key = "a.b", .type = WEFT_VALUE_STRING, .v.s = "first" },
		{ .key = "2fast", .type = WEFT_VALUE_BOOL, .v.b = true },
		{ .key = "ratio", .type = WEFT_VALUE_DOUBLE, .v.d = 0.25 },
	};
	const struct weft_resource res = { .attrs = res_attrs,
					   .n_attrs = sizeof(res_attrs) / sizeof(res_attrs[0]),
					   .scope_name = "weft",
					   .scope_version = "1.2" };
	const struct weft_attr odd = { .key = "weft.channel.name",
				       .type = WEFT_VALUE_STRING,
				       .v.s = "q\"\\\n\xff" };
	const struct weft_attr mutex = { .key = "weft.wait.kind",
					 .type = WEFT_VALUE_STRING,
					 .v.s = "mutex" };
	const struct weft_attr site[] = {
		{ .key = "weft.wait.kind", .type = WEFT_VALUE_STRING, .v.s = "cond" },
		{ .key = "code.function.name", .type = WEFT_VALUE_STRING, .v.s = "work" },
	};
	static const double bounds[] = { 1e-6, 0.5 };
	static const uint64_t buckets[] = { 1, 2, 3 };
	const struct weft_point io[] = { { .attrs = &odd, .n_attrs = 1, .as_int = 7 } };
	const struct weft_point threads[] = { { .as_int = 5 } };
	const struct weft_point depth[] = {
		{ .attrs = &mutex, .n_attrs = 1, .is_double = true, .as_double = 1.5 },
		{ .is_double = true, .as_double = INFINITY },
	};
	const struct weft_point waits[] = { { .attrs = site,
					      .n_attrs = 2,
					      .count = 6,
					      .sum = 1.25,
					      .bounds = bounds,
					      .n_bounds = 2,
					      .bucket_counts = buckets } };
	const struct weft_metric m[] = {
		{ .name = "weft.channel.io",
		  .description = "Bytes.\nMoved \\ here.",
		  .unit = "By",
		  .type = WEFT_METRIC_SUM,
		  .monotonic = true,
		  .points = io,
		  .n_points = 1 },
		{ .name = "empty", .unit = "s", .type = WEFT_METRIC_GAUGE },
		{ .name = "process.thread.count",
		  .description = "Live threads.",
		  .unit = "{thread}",
		  .type = WEFT_METRIC_SUM,
		  .points = threads,
		  .n_points = 1 },
		{ .name = "depth",
		  .unit = "",
		  .type = WEFT_METRIC_GAUGE,
		  .points = depth,
		  .n_points = 2 },
		{ .name = "weft.wait.duration",
		  .description = "Waits.",
		  .unit = "s",
		  .type = WEFT_METRIC_HISTOGRAM,
		  .points = waits,
		  .n_points = 1 },
		/* Comes out as process_thread_count again: left out whole. */
		{ .name = "process/thread/count",
		  .unit = "{thread}",
		  .type = WEFT_METRIC_GAUGE,
		  .points = threads,
		  .n_points = 1 },
	};
	const char *want =
		"# HELP target_info Target metadata\n"
		"# TYPE target_info gauge\n"
		"target_info{a_b=\"first;second\",key_2fast=\"true\","
		"process_command_args=\"[\\\"prog\\\",\\\"--x=\\\\\\\"y\\\\\\\"\\\"]\","
		"process_pid=\"42\",ratio=\"0.25\",service_name=\"svc\"} 1\n"
		"# HELP weft_channel_io_bytes_total Bytes.\\nMoved \\\\ here.\n"
		"# TYPE weft_channel_io_bytes_total counter\n"
		"weft_channel_io_bytes_total{otel_scope_name=\"weft\",otel_scope_version=\"1.2\","
		"weft_channel_name=\"q\\\"\\\\\\n\xef\xbf\xbd\"} 7\n"
		"# HELP process_thread_count Live threads.\n"
		"# TYPE process_thread_count gauge\n"
		"process_thread_count{otel_scope_name=\"weft\",otel_scope_version=\"1.2\"} 5\n"
		"# TYPE depth gauge\n"
		"depth{otel_scope_name=\"weft\",otel_scope_version=\"1.2\",weft_wait_kind="
		"\"mutex\"}"
		" 1.5\n"
		"depth{otel_scope_name=\"weft\",otel_scope_version=\"1.2\"} +Inf\n"
		"# HELP weft_wait_duration_seconds Waits.\n"
		"# TYPE weft_wait_duration_seconds histogram\n"
		"weft_wait_duration_seconds_bucket{code_function_name=\"work\",otel_scope_name="
		"\"weft\","
		"otel_scope_version=\"1.2\",weft_wait_kind=\"cond\",le=\"1e-06\"} 1\n"
		"weft_wait_duration_seconds_bucket{code_function_name=\"work\",otel_scope_name="
		"\"weft\","
		"otel_scope_version=\"1.2\",weft_wait_kind=\"cond\",le=\"0.5\"} 3\n"
		"weft_wait_duration_seconds_bucket{code_function_name=\"work\",otel_scope_name="
		"\"weft\","
		"otel_scope_version=\"1.2\",weft_wait_kind=\"cond\",le=\"+Inf\"} 6\n"
		"weft_wait_duration_seconds_sum{code_function_name=\"work\",otel_scope_name="
		"\"weft\","
		"otel_scope_version=\"1.2\",weft_wait_kind=\"cond\"} 1.25\n"
		"weft_wait_duration_seconds_count{code_function_name=\"work\",otel_scope_name="
		"\"weft\","
		"otel_scope_version=\"1.2\",weft_wait_kind=\"cond\"} 6\n";
	static char got[8192];

	expect_str(render(got, sizeof(got), &res, m, sizeof(m) / sizeof(m[0])), want);
}

/* No resource attributes, no scope: no target_info, no braces. */
static void test_bare(void)
{
	const struct weft_resource res = { 0 };
	const struct weft_point p[] = { { .as_int = -3 } };
	const struct weft_metric m[] = {
		{ .name = "g", .type = WEFT_METRIC_GAUGE, .points = p, .n_points = 1 },
	};
	char got[256];

	expect_str(render(got, sizeof(got), &res, m, 1), "# TYPE g gauge\ng -3\n");
	expect_str(render(got, sizeof(got), &res, m, 0), "");
}

/* --- Serving (exporter/prometheus.c), on this thread as on the exporter's. --- */

static const struct weft_point served_point[] = { { .as_int = 9 } };
static const struct weft_metric served[] = {
	{ .name = "g", .type = WEFT_METRIC_GAUGE, .points = served_point, .n_points = 1 },
};
static int collects;

static size_t collect(const struct weft_metric **out)
{
	collects++;
	*out = served;
	return 1;
}

struct client {
	unsigned port;
	const char *request;
	size_t len;
	bool silent; /* connects, sends nothing, waits to be closed */
	char reply[4096];
};

static void *client_main(void *arg)
{
	struct client *c = arg;
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)c->port) };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	size_t got = 0;
	ssize_t r;

	inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0)
		return NULL;
	for (size_t sent = 0; !c->silent && sent < c->len; sent += (size_t)r)
		if ((r = send(fd, c->request + sent, c->len - sent, MSG_NOSIGNAL)) <= 0)
			break;
	while (got + 1 < sizeof(c->reply) &&
	       (r = recv(fd, c->reply + got, sizeof(c->reply) - 1 - got, 0)) > 0)
		got += (size_t)r;
	c->reply[got] = '\0';
	close(fd);
	return NULL;
}

/*
 * Serves one client that sends `request` (len bytes; 0: a string) and
 * returns its whole reply. A NULL request: the client sends nothing.
 */
static const char *serve_one(unsigned port, const char *request, size_t len, struct client *c)
{
	pthread_t th;
	bool client = false;

	memset(c, 0, sizeof(*c));
	c->port = port;
	c->request = request;
	c->len = request && !len ? strlen(request) : len;
	c->silent = request == NULL;
	assert_int(pthread_create(&th, NULL, client_main, c), 0);
	for (int i = 0; i < 50 && !client; i++)
		client = weft_prometheus_wait(weft_load_relaxed(&weft_consumer_word), 100000000u);
	expect_true(client);
	weft_prometheus_serve(collect, &(struct weft_resource){ .scope_name = "weft" });
	pthread_join(th, NULL);
	return c->reply;
}

static unsigned free_port(void)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
	assert_int(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
	close(fd);
	return ntohs(sa.sin_port);
}

static void *waker(void *arg)
{
	usleep(20000);
	weft_consumer_wake();
	return arg;
}

static void test_serve(void)
{
	static const char ok[] = "HTTP/1.1 200 OK\r\n"
				 "Content-Type: text/plain; version=0.0.4; charset=utf-8\r\n"
				 "Content-Length: 43\r\nConnection: close\r\n\r\n"
				 "# TYPE g gauge\ng{otel_scope_name=\"weft\"} 9\n";
	static char big[3 * WEFT_PROMETHEUS_REQUEST_MAX];
	static struct client c;
	unsigned port = free_port();
	uint64_t t0;
	pthread_t th;
	int fd;

	snprintf(weft_cfg.prometheus_host, sizeof(weft_cfg.prometheus_host), "localhost");
	weft_cfg.prometheus_port = port;
	assert_int(weft_prometheus_open(), 0);
	expect_true(weft_prometheus_active());
	expect_true(weft_load_relaxed(&weft_consumer_wake_fd) >= 0);

	expect_str(serve_one(port, "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n", 0, &c), ok);
	expect_int(collects, 1);
	expect_str(serve_one(port, "HEAD /metrics?a=b HTTP/1.0\n\n", 0, &c),
		   "HTTP/1.1 200 OK\r\n"
		   "Content-Type: text/plain; version=0.0.4; charset=utf-8\r\n"
		   "Content-Length: 43\r\nConnection: close\r\n\r\n");
	expect_str(serve_one(port, "GET /x HTTP/1.1\r\n\r\n", 0, &c),
		   "HTTP/1.1 404 Not Found\r\nContent-Type: text/plain\r\n"
		   "Content-Length: 9\r\nConnection: close\r\n\r\nNot Found");
	expect_str(serve_one(port, "PUT /metrics HTTP/1.1\r\n\r\n", 0, &c),
		   "HTTP/1.1 405 Method Not Allowed\r\nContent-Type: text/plain\r\n"
		   "Content-Length: 18\r\nAllow: GET, HEAD\r\nConnection: close\r\n\r\n"
		   "Method Not Allowed");
	expect_str(serve_one(port, "GET\r\n\r\n", 0, &c),
		   "HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain\r\n"
		   "Content-Length: 11\r\nConnection: close\r\n\r\nBad Request");
	memset(big, 'a', sizeof(big));
	memcpy(big, "GET /metrics HTTP/1.1\r\nX: ", 26);
	expect_true(strncmp(serve_one(port, big, sizeof(big), &c),
			    "HTTP/1.1 431 Request Header Fields Too Large\r\n", 46) == 0);
	/* Silent: closed at the deadline, with nothing said. */
	t0 = weft_clock_now();
	expect_str(serve_one(port, NULL, 0, &c), "");
	expect_true(weft_clock_now() - t0 >= (WEFT_PROMETHEUS_DEADLINE_MS - 50) * 1000000ull);
	expect_int(collects, 2);

	/* A wake reaches a sleep in poll, as one in the futex. */
	t0 = weft_clock_now();
	assert_int(pthread_create(&th, NULL, waker, NULL), 0);
	expect_true(!weft_prometheus_wait(weft_load_relaxed(&weft_consumer_word), 5000000000u));
	expect_true(weft_clock_now() - t0 < 4000000000u);
	pthread_join(th, NULL);

	/* The port is taken while open; open again after close. */
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	{
		struct sockaddr_in sa = { .sin_family = AF_INET,
					  .sin_port = htons((uint16_t)port) };

		inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
		expect_int(bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 ? 0 : errno,
			   EADDRINUSE);
	}
	close(fd);
	weft_prometheus_close();
	expect_true(!weft_prometheus_active());
	expect_int(weft_load_relaxed(&weft_consumer_wake_fd), -1);
	assert_int(weft_prometheus_open(), 0);
	weft_prometheus_close();
}

int main(void)
{
	test_names();
	test_render();
	test_bare();
	test_serve();
	return harness_done();
}
