/*
 * The retry policy of the otlp output, apart from any transport.
 *
 * One export (one request body) is tried until it is delivered, fails in a
 * way another attempt would repeat, or runs out of time:
 * - Retried: HTTP 429, 502, 503 and 504, and transport failures (connection
 *   refused or reset, timeouts, name resolution, a failed TLS handshake...).
 *   Everything else is final.
 * - The wait before the next attempt is the server's Retry-After when it sent
 *   one (seconds or an HTTP date), waited exactly, else exponential backoff:
 *   1 s, doubling, at most 5 s, each wait drawn from [0.5, 1.5) times that.
 *   A wait that would end too late for another attempt ends the export.
 * - Each attempt is bounded by OTEL_EXPORTER_OTLP_TIMEOUT and by what is
 *   left of the export's time (OTEL_BSP_EXPORT_TIMEOUT for spans,
 *   OTEL_METRIC_EXPORT_TIMEOUT for metrics).
 * - Cool-down: after an export gave up on a collector that is down, further
 *   exports of that signal (and of its sibling, the other signal when it goes
 *   to the same scheme, host and port) fail at once for 5 s.
 * - Exit: from the moment the program is seen exiting, every export and every
 *   attempt, of both signals, shares one deadline, WEFT_EXIT_TIMEOUT after
 *   that moment (an attempt already in flight is cut there too). While
 *   exiting, a transport failure (refused, timed out, a name that does not
 *   resolve) is not retried: a collector that is not there must not hold up
 *   the exit. A connection that broke (reset, closed: often a keep-alive
 *   connection the collector had just dropped) gets one more attempt at
 *   once, on a new connection, and no more. A retryable HTTP answer is
 *   retried while the budget lasts, a backoff then being cut to half of
 *   what is left (an export that failed just before the exit still gets an
 *   attempt within it). A signal cooling down gets one attempt at exit
 *   rather than none.
 *
 * Everything the policy needs from the world (the clock, sleeping, random
 * numbers, whether the program is exiting) comes through struct
 * weft_otlp_env, and attempts go through struct weft_otlp_transport, so the
 * unit test drives it with a fake clock and a fake transport.
 */
#ifndef WEFT_EXPORTER_OTLP_RETRY_H
#define WEFT_EXPORTER_OTLP_RETRY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define WEFT_OTLP_NSEC_PER_MSEC UINT64_C(1000000)
#define WEFT_OTLP_NSEC_PER_SEC  UINT64_C(1000000000)

/* Backoff between attempts: 1 s, doubling, capped at 5 s, before jitter. */
#define WEFT_OTLP_BACKOFF_INITIAL (1 * WEFT_OTLP_NSEC_PER_SEC)
#define WEFT_OTLP_BACKOFF_MAX     (5 * WEFT_OTLP_NSEC_PER_SEC)
/* After an export gave up on a collector that is down: fail at once for this long. */
#define WEFT_OTLP_COOLDOWN (5 * WEFT_OTLP_NSEC_PER_SEC)
/* An attempt needs at least this much of the export's time left to be made. */
#define WEFT_OTLP_MIN_ATTEMPT (10 * WEFT_OTLP_NSEC_PER_MSEC)
/* How often a wait (between attempts, or in a transfer) looks whether the program exits. */
#define WEFT_OTLP_NAP (50 * WEFT_OTLP_NSEC_PER_MSEC)

enum weft_otlp_outcome {
	WEFT_OTLP_SENT,
	WEFT_OTLP_RETRY, /* a transient failure: try again if time allows */
	WEFT_OTLP_FINAL, /* a failure that another attempt would repeat */
};

/* Why an attempt failed. */
struct weft_otlp_failure {
	int err;        /* what the export returns */
	long kind;      /* an HTTP status, or 1000 + a transport code: one message per kind */
	bool transport; /* no HTTP answer (refused, reset, timed out, ...) */
	bool broken;    /* of those, a connection that broke after it was made */
	bool has_retry_after;
	uint64_t retry_after_ns;
	char why[320]; /* for messages */
};

/* The world as the policy sees it. */
struct weft_otlp_env {
	uint64_t (*now)(void *arg); /* monotonic nanoseconds */
	void (*sleep)(void *arg, uint64_t ns);
	uint64_t (*random)(void *arg);
	bool (*exiting)(void *arg); /* whether the program began to exit */
	void *arg;
};

/* The exit, shared by every signal: one budget from the moment it is seen. */
struct weft_otlp_exit {
	uint64_t budget_ns; /* WEFT_EXIT_TIMEOUT */
	uint64_t seen_ns;   /* 0 until the exit is seen */
};

/* One export in progress, as the transport sees it. */
struct weft_otlp_try {
	const struct weft_otlp_env *env;
	struct weft_otlp_exit *exit;
	uint64_t deadline;           /* the export's own, before the exit cuts it */
	uint64_t request_timeout_ns; /* OTEL_EXPORTER_OTLP_TIMEOUT */
};

/*
 * The export's deadline now: its own, or the exit's when the program is
 * exiting (noticing the exit when it is first seen). A transport calls it at
 * least every WEFT_OTLP_NAP while an attempt is in flight, and gives up the
 * attempt when the clock passes it.
 */
uint64_t weft_otlp_try_deadline(struct weft_otlp_try *t);

/* The time the next attempt may take: what is left, at most the request timeout. */
uint64_t weft_otlp_try_limit(struct weft_otlp_try *t);

struct weft_otlp_transport {
	/* One attempt; fills *f unless it returns WEFT_OTLP_SENT. */
	enum weft_otlp_outcome (*attempt)(void *arg, const uint8_t *body, size_t len,
					  struct weft_otlp_try *t, struct weft_otlp_failure *f);
	void *arg;
};

/* The retry state of one signal's channel. */
struct weft_otlp_retry {
	uint64_t quiet_until; /* cooling down after the collector was found down */
	int quiet_err;
	struct weft_otlp_retry *sibling; /* the other signal's, same origin */
};

struct weft_otlp_result {
	int err;                    /* 0: delivered */
	unsigned attempts;          /* requests made */
	bool final;                 /* a failure another attempt would repeat (not worth keeping) */
	bool cooling;               /* failed at once: the collector was found down moments ago */
	struct weft_otlp_failure f; /* the last failure */
};

/*
 * Sends body through tr under the policy above; the export's own time is
 * export_timeout_ns from now. Returns res->err.
 */
int weft_otlp_retry_send(struct weft_otlp_retry *st, const struct weft_otlp_env *env,
			 struct weft_otlp_exit *ex, const struct weft_otlp_transport *tr,
			 uint64_t export_timeout_ns, uint64_t request_timeout_ns,
			 const uint8_t *body, size_t len, struct weft_otlp_result *res);

/* Pure parts, exposed for the unit test. */
bool weft_otlp_status_retryable(long status);
uint64_t weft_otlp_backoff_next(uint64_t backoff);
/* backoff * [0.5, 1.5), from a random number. */
uint64_t weft_otlp_jitter(uint64_t backoff, uint64_t random);

/*
 * Retry-After: a number of seconds, or (with getdate, which may be NULL) an
 * HTTP date, relative to now (Unix seconds). Returns true and *ns, or false.
 */
bool weft_otlp_retry_after_parse(const char *s, time_t now,
				 time_t (*getdate)(const char *s, const time_t *unused),
				 uint64_t *ns);

/* The real world: the monotonic clock, nanosleep, weft's ids, weft_process. */
const struct weft_otlp_env *weft_otlp_env_real(void);

/*
 * What the real environment's sleep does first, before the program exits:
 * the exporter's work between a request's attempts (draining the threads'
 * rings into the queue, so that a collector that asks to wait costs counted
 * queue_full drops at worst, never ring_full ones). NULL: nothing.
 */
void weft_otlp_set_nap_hook(void (*hook)(void));

#endif
