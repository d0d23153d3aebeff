/*
 * Configuration, read once from the environment.
 *
 * Every variable weft honours is one row of the table in config.c. Parsing
 * never allocates, never fails the program: a malformed value prints one
 * `weft:` warning line on stderr and leaves the default in place; a duration
 * outside its range is clamped to the nearer bound, with one line too.
 */
#ifndef WEFT_AGENT_CONFIG_H
#define WEFT_AGENT_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define WEFT_CONFIG_STR 512

/* Bit set of outputs for one signal. */
enum weft_output {
	WEFT_OUT_OTLP = 1u << 0,
	WEFT_OUT_FILE = 1u << 1,
	WEFT_OUT_CONSOLE = 1u << 2,
	WEFT_OUT_PROMETHEUS = 1u << 3, /* metrics only: served, not sent */
				       /* Zero means none. */
};

enum weft_sampler {
	WEFT_SAMPLER_ALWAYS_ON,
	WEFT_SAMPLER_ALWAYS_OFF,
	WEFT_SAMPLER_TRACEIDRATIO,
	WEFT_SAMPLER_PARENT_ALWAYS_ON,
	WEFT_SAMPLER_PARENT_ALWAYS_OFF,
	WEFT_SAMPLER_PARENT_TRACEIDRATIO,
};

enum weft_log_level {
	WEFT_LOG_ERROR,
	WEFT_LOG_WARN,
	WEFT_LOG_INFO,
	WEFT_LOG_DEBUG,
};

enum weft_task_parent {
	WEFT_TASK_PARENT_LINK,
	WEFT_TASK_PARENT_CHILD,
};

/* Hook families for WEFT_HOOKS. */
enum weft_hook_family {
	WEFT_HOOK_THREAD = 1u << 0,
	WEFT_HOOK_MUTEX = 1u << 1,
	WEFT_HOOK_RWLOCK = 1u << 2,
	WEFT_HOOK_COND = 1u << 3,
	WEFT_HOOK_SEM = 1u << 4,
	WEFT_HOOK_FD = 1u << 5,
	WEFT_HOOK_SOCKET = 1u << 6,
	WEFT_HOOK_POLL = 1u << 7,
	WEFT_HOOK_PROCESS = 1u << 8,
	WEFT_HOOK_SLEEP = 1u << 9,
	WEFT_HOOK_ALL = 0x3ff,
};

/*
 * The switches and numbers come first: the hooks read them at every call,
 * so weft_cfg follows the hooks' other hot statics, on their page
 * (WEFT_HOT_DATA_TAIL, agent/hot.h). The strings that have a default
 * (written as the configuration loads) and the service name come next; the
 * long strings, empty by default, after them: loading the defaults writes
 * only the first pages.
 */
struct weft_config {
	/* OpenTelemetry's. */
	bool sdk_disabled;              /* OTEL_SDK_DISABLED */
	unsigned traces_out;            /* OTEL_TRACES_EXPORTER */
	unsigned metrics_out;           /* OTEL_METRICS_EXPORTER */
	uint64_t otlp_timeout_ns;       /* OTEL_EXPORTER_OTLP_TIMEOUT, 10 s, 1 ms..1 h */
	bool gzip;                      /* OTEL_EXPORTER_OTLP_COMPRESSION */
	enum weft_sampler sampler;      /* OTEL_TRACES_SAMPLER */
	double sampler_ratio;           /* OTEL_TRACES_SAMPLER_ARG, 1.0 */
	uint64_t bsp_schedule_delay_ns; /* OTEL_BSP_SCHEDULE_DELAY, 5 s, 1 ms..1 h */
	uint32_t bsp_max_queue;         /* OTEL_BSP_MAX_QUEUE_SIZE, 2048 */
	uint32_t bsp_max_batch;         /* OTEL_BSP_MAX_EXPORT_BATCH_SIZE, 512 */
	uint64_t bsp_export_timeout_ns; /* OTEL_BSP_EXPORT_TIMEOUT, 30 s, 1 ms..1 h */
	uint64_t metric_interval_ns;    /* OTEL_METRIC_EXPORT_INTERVAL, 60 s, 10 ms..1 h */
	uint64_t metric_timeout_ns;     /* OTEL_METRIC_EXPORT_TIMEOUT, 30 s, 1 ms..1 h */
	uint32_t span_link_limit;       /* OTEL_SPAN_LINK_COUNT_LIMIT, 128 */
	uint32_t span_attr_limit;       /* OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT, 128 */
	uint32_t prometheus_port;       /* OTEL_EXPORTER_PROMETHEUS_PORT, 9464 */

	/* weft's own. */
	uint64_t exit_timeout_ns;          /* WEFT_EXIT_TIMEOUT, 1 s, 1 ms..export timeout */
	uint64_t output_max_size;          /* WEFT_OUTPUT_MAX_SIZE, 100 MB; 0 = no limit */
	uint64_t span_min_wait_ns;         /* WEFT_SPAN_MIN_WAIT, 1 ms, 0..1 h */
	bool lock_order;                   /* WEFT_LOCK_ORDER, off */
	uint64_t stuck_after_ns;           /* WEFT_STUCK_AFTER, 10 s, 1 ms..1 day */
	enum weft_task_parent task_parent; /* WEFT_TASK_PARENT */
	uint32_t stack_depth;              /* WEFT_STACKS: 0 off, 1 = default depth 16, N */
	uint32_t hold_sample;              /* WEFT_HOLD_SAMPLE: 1 in N, 0 off; 64 */
	uint32_t ring_size;                /* WEFT_RING_SIZE: events, power of two, 1024 */
	uint32_t cardinality_limit;        /* WEFT_CARDINALITY_LIMIT, 500 */
	bool capture_args;                 /* WEFT_CAPTURE_ARGS, 0: may hold secrets */
	enum weft_log_level log_level;     /* WEFT_LOG_LEVEL, warn */
	unsigned hooks;                    /* WEFT_HOOKS, all */

	/* The strings with a default, and the service name: on the same page. */
	char prometheus_host[256];          /* OTEL_EXPORTER_PROMETHEUS_HOST, localhost */
	char output_path[WEFT_CONFIG_STR];  /* WEFT_OUTPUT, weft-%n-%p.jsonl */
	char report[WEFT_CONFIG_STR];       /* WEFT_REPORT: "" = off, "stderr", or a path */
	char service_name[WEFT_CONFIG_STR]; /* OTEL_SERVICE_NAME ("" = unset) */
	char traceparent[128];              /* TRACEPARENT, raw ("" = unset) */

	/* Empty unless set. */
	char resource_attrs[4 * WEFT_CONFIG_STR]; /* OTEL_RESOURCE_ATTRIBUTES: k=v items only */
	char endpoint[WEFT_CONFIG_STR];           /* OTEL_EXPORTER_OTLP_ENDPOINT */
	char traces_endpoint[WEFT_CONFIG_STR];    /* OTEL_EXPORTER_OTLP_TRACES_ENDPOINT */
	char metrics_endpoint[WEFT_CONFIG_STR];   /* OTEL_EXPORTER_OTLP_METRICS_ENDPOINT */
	char headers[4 * WEFT_CONFIG_STR];        /* OTEL_EXPORTER_OTLP_HEADERS, raw */
	char traces_headers[4 * WEFT_CONFIG_STR];
	char metrics_headers[4 * WEFT_CONFIG_STR];
	char certificate[WEFT_CONFIG_STR]; /* OTEL_EXPORTER_OTLP_CERTIFICATE */
};

/*
 * The end of the switches and defaulted strings the hooks read: at most a
 * page (agent/config.c checks), so that they touch at most two (weft_cfg is
 * not page-aligned: it follows the hot statics, agent/hot.h).
 */
#define WEFT_CONFIG_HOT_END offsetof(struct weft_config, resource_attrs)

/* Reads the environment into cfg (defaults first). Warnings go to stderr. */
void weft_config_load(struct weft_config *cfg);

/*
 * Same, into a cfg that is all zero already (static storage never written):
 * what is zero by default is not written, so that the pages of the long
 * string fields most processes leave empty are never touched.
 */
void weft_config_load_zeroed(struct weft_config *cfg);

/*
 * Same, with getenv replaced: used by the unit tests. `warn` receives each
 * warning line (without the trailing newline); NULL means stderr.
 */
void weft_config_load_from(struct weft_config *cfg, const char *(*get)(const char *name),
			   void (*warn)(const char *line));

/*
 * Parsers, exposed for tests. Each returns 0, or -EINVAL leaving *out
 * untouched; a number too large for 64 bits is -EINVAL here (the loader
 * clamps such a duration instead).
 */
int weft_config_parse_duration(const char *s, uint64_t *out_ns);
int weft_config_parse_size(const char *s, uint64_t *out_bytes);
int weft_config_parse_bool(const char *s, bool *out);

/*
 * Expands an output path pattern into out: `%p` is the pid, `%n` the service
 * name with every character other than letters, digits, `.`, `_`, `+` and `-`
 * replaced by `_` (NULL or "" gives `unknown_service`), `%%` is `%`. Any other
 * `%` is copied as is. out is always terminated; a result that does not fit
 * is cut at outlen - 1 bytes.
 */
void weft_config_expand_path(const char *pattern, const char *service, int pid, char *out,
			     size_t outlen);

#endif
