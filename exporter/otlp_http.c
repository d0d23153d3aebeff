/*
 * The otlp output: OTLP/HTTP protobuf over libcurl (see otlp_http.h for the
 * behaviour a user sees).
 *
 * Each signal is a `channel`: its URL and header list, fixed at open, and one
 * libcurl easy handle in a multi handle of its own, which keeps the signal's
 * keep-alive connection between exports. The transfer is driven with
 * curl_multi_perform and curl_multi_wait rather than curl_easy_perform:
 * curl_multi_wait never reads the multi handle's internal wake-up socketpair
 * (curl_easy_perform polls and drains it), so once a handle is set up,
 * libcurl touches no descriptor but the connection sockets sockets.c tracks.
 *
 * Handles are never cleaned up. Cleaning up closes (and for TLS, first
 * writes an alert to) every descriptor the handle holds, and after a program
 * has closed and reused our descriptors those numbers may be the program's.
 * A channel whose sockets are no longer ours abandons its handles whole and
 * starts new ones (at most WEFT_OTLP_MAX_ABANDONED times, then it stops
 * keeping connections alive); at exit the process ends with them.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "agent/agent.h"
#include "agent/alloc.h"
#include "agent/clock.h"
#include "agent/ids.h"
#include "agent/log.h"
#include "exporter/curl_dl.h"
#include "exporter/gzip.h"
#include "exporter/otlp_encode.h"
#include "exporter/otlp_http.h"
#include "exporter/resource.h"
#include "exporter/sockets.h"

#define NSEC_PER_MSEC UINT64_C(1000000)
#define NSEC_PER_SEC  UINT64_C(1000000000)

/* Backoff between attempts: 1 s, doubling, capped at 5 s, before jitter. */
#define WEFT_OTLP_BACKOFF_INITIAL (1 * NSEC_PER_SEC)
#define WEFT_OTLP_BACKOFF_MAX	  (5 * NSEC_PER_SEC)
/* After an export gave up on a collector that is down: drop at once for this long. */
#define WEFT_OTLP_COOLDOWN (5 * NSEC_PER_SEC)
/* An attempt needs at least this much of the export's time left to be made. */
#define WEFT_OTLP_MIN_ATTEMPT (10 * NSEC_PER_MSEC)
/* How often a wait between attempts looks whether the program began to exit. */
#define WEFT_OTLP_NAP (50 * NSEC_PER_MSEC)
/* Percent of OTEL_BSP_EXPORT_TIMEOUT, from the start of exit, for each signal. */
#define WEFT_OTLP_EXIT_SHARE_TRACES  50
#define WEFT_OTLP_EXIT_SHARE_METRICS 90
/*
 * Once exiting, no retry starts later than a quarter of OTEL_BSP_EXPORT_TIMEOUT,
 * at most 5 s, after the exit began: a collector that is down must not hold
 * every exiting process for the whole timeout (an attempt already running may
 * still use its signal's share).
 */
#define WEFT_OTLP_EXIT_RETRY_WINDOW (5 * NSEC_PER_SEC)

#define WEFT_OTLP_DEFAULT_ENDPOINT "http://localhost:4318"
#define WEFT_OTLP_RESPONSE_MAX	   (64 * 1024)
#define WEFT_OTLP_MAX_ABANDONED	   8
#define WEFT_OTLP_MAX_HEADERS	   64
#define WEFT_OTLP_SEEN_KINDS	   16
#define WEFT_OTLP_URL_MAX	   (WEFT_CONFIG_STR + 16)

enum weft_otlp_outcome {
	WEFT_OTLP_SENT,
	WEFT_OTLP_RETRY, /* a transient failure: try again if time allows */
	WEFT_OTLP_FINAL, /* a failure that another attempt would repeat */
};

/* Why the last attempt failed. */
struct weft_otlp_failure {
	int err;       /* what export returns */
	long kind;     /* an HTTP status, or 1000 + a CURLcode: one message per kind */
	char why[320]; /* for the message */
	bool has_retry_after;
	uint64_t retry_after_ns;
};

struct weft_otlp;

struct weft_otlp_channel {
	struct weft_otlp *o;
	enum weft_otlp_signal signal;
	const char *name;  /* "traces" */
	const char *items; /* "spans" */
	uint64_t export_timeout_ns;
	unsigned exit_share;
	char url[WEFT_OTLP_URL_MAX];
	char shown[WEFT_OTLP_URL_MAX]; /* url without user:password@ */
	struct curl_slist *headers;
	CURLM *multi;
	CURL *easy;
	struct weft_sockets socks;
	unsigned abandoned;
	uint64_t quiet_until; /* cooling down after a collector was found down */
	int quiet_err;
	struct weft_otlp_channel *sibling; /* the other signal's, when it has the same origin */
	/* The last response. */
	char status_line[96];
	char retry_after[64];
	uint8_t *body;
	size_t body_len;
	char errbuf[CURL_ERROR_SIZE];
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
	uint64_t exit_budget_ns;
	uint64_t exit_window_ns;
	uint64_t exit_seen_ns;
	char certificate[WEFT_CONFIG_STR];
	char user_agent[64];
	struct weft_rng rng;
	pid_t pid;
	/* Forked while the parent was inside libcurl: libcurl is not used here. */
	bool fork_unsafe;
	struct weft_sink *fallback;
	bool fallback_tried;
};

/* The sink of this process, so that a forked child can retire the parent's. */
static struct weft_otlp *current;

/*
 * Set while the exporter is inside the dynamic loader or libcurl (loading it,
 * or running a transfer: TLS, the resolver, curl's own state). A process
 * forked at such a moment inherits those libraries' locks held and their
 * state half-changed by a thread that does not exist in it, so the child
 * never calls into them: it writes the file output instead. Stored with
 * sequential consistency so that the value a fork copies is never older than
 * the work it guards.
 */
static _Atomic int in_libcurl;

/* --- Small string helpers (ASCII, locale-free) -------------------------- */

static char ascii_lower(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

static bool prefix_nocase(const char *s, size_t n, const char *prefix)
{
	size_t i;

	for (i = 0; prefix[i]; i++)
		if (i >= n || ascii_lower(s[i]) != ascii_lower(prefix[i]))
			return false;
	return true;
}

static bool eq_nocase(const char *a, const char *b)
{
	for (; *a && *b; a++, b++)
		if (ascii_lower(*a) != ascii_lower(*b))
			return false;
	return *a == *b;
}

/* Copies s[0..n) into dst without surrounding blanks or the line's CR LF. */
static void copy_trimmed(char *dst, size_t dstlen, const char *s, size_t n)
{
	while (n && (*s == ' ' || *s == '\t'))
		s++, n--;
	while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r' || s[n - 1] == '\n'))
		n--;
	if (n >= dstlen)
		n = dstlen - 1;
	memcpy(dst, s, n);
	dst[n] = '\0';
}

/* --- Endpoints ------------------------------------------------------------ */

/*
 * The signal's URL: its own variable as given, else the base endpoint with
 * `/v1/<signal>` appended after removing the base's trailing slashes, so that
 * exactly one slash joins them.
 */
static const char *signal_url(const char *base, const char *own, const char *path, char *out,
			      size_t outlen, bool *from_own)
{
	size_t n;

	*from_own = own[0] != '\0';
	if (*from_own) {
		copy_trimmed(out, outlen, own, strlen(own));
		return out;
	}
	if (!base[0])
		base = WEFT_OTLP_DEFAULT_ENDPOINT;
	copy_trimmed(out, outlen, base, strlen(base));
	n = strlen(out);
	while (n && out[n - 1] == '/')
		n--;
	snprintf(out + n, outlen - n, "/%s", path);
	return out;
}

/* Whether two URLs have the same scheme, host and port (case-insensitively). */
static bool same_origin(const char *a, const char *b)
{
	const char *ea = strstr(a, "://"), *eb = strstr(b, "://");
	size_t na, nb;

	if (!ea || !eb)
		return false;
	na = (size_t)(ea + 3 - a) + strcspn(ea + 3, "/?#");
	nb = (size_t)(eb + 3 - b) + strcspn(eb + 3, "/?#");
	if (na != nb)
		return false;
	for (size_t i = 0; i < na; i++)
		if (ascii_lower(a[i]) != ascii_lower(b[i]))
			return false;
	return true;
}

/* The URL for messages: any user:password@ removed. */
static void shown_url(const char *url, char *out, size_t outlen)
{
	const char *start = strstr(url, "://"), *at, *end;

	if (!start) {
		snprintf(out, outlen, "%s", url);
		return;
	}
	start += 3;
	end = start + strcspn(start, "/?#");
	at = memchr(start, '@', (size_t)(end - start));
	if (!at) {
		snprintf(out, outlen, "%s", url);
		return;
	}
	/* memrchr: a password may contain '@' only percent-encoded, but be safe. */
	while ((end = memchr(at + 1, '@', (size_t)(end - at - 1))) != NULL)
		at = end;
	snprintf(out, outlen, "%.*s%s", (int)(start - url), url, at + 1);
}

/* Whether url is an http(s) URL libcurl will accept; why otherwise. */
static bool url_valid(const struct weft_curl *c, const char *url, char *why, size_t wlen)
{
	size_t n = strlen(url), scheme;
	const char *host;

	if (prefix_nocase(url, n, "http://")) {
		scheme = 7;
	} else if (prefix_nocase(url, n, "https://")) {
		scheme = 8;
		if (!c->has_ssl) {
			snprintf(why, wlen, "https, but libcurl %s was built without TLS",
				 c->version);
			return false;
		}
	} else {
		snprintf(why, wlen, "not an http:// or https:// URL");
		return false;
	}
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)url[i];

		if (ch <= 0x20 || ch == 0x7f) {
			snprintf(why, wlen, "contains a blank or control character");
			return false;
		}
	}
	host = url + scheme;
	if (!*host || *host == '/' || *host == ':' || *host == '?' || *host == '#') {
		snprintf(why, wlen, "no host");
		return false;
	}
	if (c->url && c->url_set && c->url_cleanup) {
		CURLU *u = c->url();
		CURLUcode rc = u ? c->url_set(u, CURLUPART_URL, url, 0) : CURLUE_OK;

		if (u)
			c->url_cleanup(u);
		if (rc != CURLUE_OK) {
			snprintf(why, wlen, "not a valid URL (libcurl URL error %d)", (int)rc);
			return false;
		}
	}
	return true;
}

/* --- Headers -------------------------------------------------------------- */

struct weft_otlp_pairs {
	const char *key[WEFT_OTLP_MAX_HEADERS];
	const char *value[WEFT_OTLP_MAX_HEADERS];
	size_t n;
	const char *var;
};

static bool header_token(const char *s)
{
	static const char extra[] = "!#$%&'*+-.^_`|~";

	if (!*s)
		return false;
	for (; *s; s++) {
		char ch = *s;

		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		      (ch >= '0' && ch <= '9') || (ch && strchr(extra, ch))))
			return false;
	}
	return true;
}

static bool header_value_ok(const char *s)
{
	for (; *s; s++)
		if (((unsigned char)*s < 0x20 && *s != '\t') || *s == 0x7f)
			return false;
	return true;
}

static void add_pair(const char *key, const char *value, void *arg)
{
	static const char *const reserved[] = {"content-type", "content-encoding", "content-length",
					       "transfer-encoding", "expect"};
	struct weft_otlp_pairs *p = arg;

	/* Names are checked, values never printed: they are often credentials. */
	if (!header_token(key) || !header_value_ok(value)) {
		weft_warn("%s: ignoring header '%s': not a valid HTTP header name or value", p->var,
			  header_token(key) ? key : "(invalid name)");
		return;
	}
	for (size_t i = 0; i < sizeof(reserved) / sizeof(reserved[0]); i++) {
		if (eq_nocase(key, reserved[i])) {
			weft_warn("%s: ignoring header '%s': weft sets it", p->var, key);
			return;
		}
	}
	/* A later pair with the same name replaces an earlier one. */
	for (size_t i = 0; i < p->n; i++) {
		if (eq_nocase(p->key[i], key)) {
			p->key[i] = key;
			p->value[i] = value;
			return;
		}
	}
	if (p->n == WEFT_OTLP_MAX_HEADERS) {
		weft_warn("%s: more than %d headers; ignoring '%s'", p->var, WEFT_OTLP_MAX_HEADERS,
			  key);
		return;
	}
	p->key[p->n] = key;
	p->value[p->n] = value;
	p->n++;
}

/*
 * Parses one headers variable. Items that are not key=value are dropped here,
 * with a warning that does not show them (they are often credentials), before
 * weft_resource_parse_pairs, which would print them.
 */
static int parse_headers(const char *raw, const char *var, char **buf, struct weft_otlp_pairs *p)
{
	size_t len = strlen(raw) + 2, o = 0, item = 0;
	char *clean;
	int err;

	p->n = 0;
	p->var = var;
	*buf = NULL;
	if (!raw[0])
		return 0;
	clean = weft_alloc(len);
	*buf = weft_alloc(len);
	if (!clean || !*buf) {
		weft_free(clean);
		return -ENOMEM;
	}
	for (const char *q = raw; *q; item++) {
		size_t n = strcspn(q, ",");
		const char *eq = memchr(q, '=', n);
		size_t k = 0;

		while (k < n && (q[k] == ' ' || q[k] == '\t'))
			k++;
		if (eq && q + k != eq) {
			if (o)
				clean[o++] = ',';
			memcpy(clean + o, q, n);
			o += n;
		} else if (n > k) {
			weft_warn("%s: ignoring item %zu: not key=value (not shown)", var,
				  item + 1);
		}
		q += n;
		if (*q == ',')
			q++;
	}
	clean[o] = '\0';
	err = weft_resource_parse_pairs(clean, *buf, len, add_pair, p);
	weft_free(clean);
	return err;
}

static struct curl_slist *append_line(const struct weft_curl *c, struct curl_slist *list,
				      const char *key, const char *value, bool *ok)
{
	size_t n = strlen(key) + strlen(value) + 3;
	char *line = weft_alloc(n);
	struct curl_slist *l;

	if (!line) {
		*ok = false;
		return list;
	}
	/* "Name;" is how libcurl sends a header with an empty value. */
	if (value[0])
		snprintf(line, n, "%s: %s", key, value);
	else
		snprintf(line, n, "%s;", key);
	l = c->slist_append(list, line);
	weft_free(line);
	if (!l) {
		*ok = false;
		return list;
	}
	return l;
}

/*
 * The channel's header list: weft's own, then OTEL_EXPORTER_OTLP_HEADERS
 * except the names the signal's own variable also sets, then the signal's.
 */
static int build_headers(struct weft_otlp *o, struct weft_otlp_channel *ch, const char *common,
			 const char *own, const char *own_var)
{
	struct weft_otlp_pairs pc, ps;
	char *bc = NULL, *bs = NULL;
	struct curl_slist *l = NULL;
	bool ok = true;

	if (parse_headers(common, "OTEL_EXPORTER_OTLP_HEADERS", &bc, &pc) < 0 ||
	    parse_headers(own, own_var, &bs, &ps) < 0) {
		weft_free(bc);
		weft_free(bs);
		return -ENOMEM;
	}
	l = append_line(o->c, l, "Content-Type", "application/x-protobuf", &ok);
	if (o->gz)
		l = append_line(o->c, l, "Content-Encoding", "gzip", &ok);
	/* No "Expect: 100-continue" round trip before large bodies ("Name:" removes one). */
	if (ok) {
		struct curl_slist *e = o->c->slist_append(l, "Expect:");

		ok = e != NULL;
		l = e ? e : l;
	}
	for (size_t i = 0; i < pc.n; i++) {
		bool overridden = false;

		for (size_t j = 0; j < ps.n; j++)
			overridden |= eq_nocase(pc.key[i], ps.key[j]);
		if (!overridden)
			l = append_line(o->c, l, pc.key[i], pc.value[i], &ok);
	}
	for (size_t j = 0; j < ps.n; j++)
		l = append_line(o->c, l, ps.key[j], ps.value[j], &ok);
	weft_free(bc);
	weft_free(bs);
	ch->headers = l;
	return ok ? 0 : -ENOMEM;
}

/* --- libcurl callbacks ---------------------------------------------------- */

static size_t on_body(char *p, size_t size, size_t n, void *arg)
{
	struct weft_otlp_channel *ch = arg;
	size_t len = size * n, room = WEFT_OTLP_RESPONSE_MAX - ch->body_len;

	/* A longer answer is cut: only its start (a partial success) matters. */
	if (len < room)
		room = len;
	if (room) {
		memcpy(ch->body + ch->body_len, p, room);
		ch->body_len += room;
	}
	return len;
}

static size_t on_header(char *p, size_t size, size_t n, void *arg)
{
	struct weft_otlp_channel *ch = arg;
	size_t len = size * n;

	if (prefix_nocase(p, len, "HTTP/")) {
		/* A new response (after a 100 Continue, say): forget the last one's. */
		copy_trimmed(ch->status_line, sizeof(ch->status_line), p, len);
		ch->retry_after[0] = '\0';
	} else if (prefix_nocase(p, len, "retry-after:")) {
		copy_trimmed(ch->retry_after, sizeof(ch->retry_after), p + 12, len - 12);
	}
	return len;
}

static curl_socket_t on_open_socket(void *arg, curlsocktype purpose, struct curl_sockaddr *a)
{
	struct weft_otlp_channel *ch = arg;
	int fd = weft_sockets_open(&ch->socks, a->family, a->socktype, a->protocol);

	return fd < 0 ? CURL_SOCKET_BAD : fd;
}

static int on_close_socket(void *arg, curl_socket_t fd)
{
	struct weft_otlp_channel *ch = arg;

	return weft_sockets_close(&ch->socks, fd);
}

/* --- Handles -------------------------------------------------------------- */

#define SETOPT(o, ch, opt, val) (ok &= (o)->c->easy_setopt((ch)->easy, (opt), (val)) == CURLE_OK)

static int channel_new_handles(struct weft_otlp *o, struct weft_otlp_channel *ch)
{
	const struct weft_curl *c = o->c;
	bool ok = true;

	ch->multi = c->multi_init();
	ch->easy = c->easy_init();
	if (!ch->multi || !ch->easy) {
		/* Nothing is connected yet: these hold no socket of the program's. */
		ch->multi = NULL;
		ch->easy = NULL;
		return -ENOMEM;
	}
	weft_sockets_init(&ch->socks);
	SETOPT(o, ch, CURLOPT_URL, ch->url);
	SETOPT(o, ch, CURLOPT_HTTPHEADER, ch->headers);
	SETOPT(o, ch, CURLOPT_USERAGENT, o->user_agent);
	SETOPT(o, ch, CURLOPT_POST, 1L);
	/* Never SIGALRM for DNS timeouts, never touch the program's SIGPIPE. */
	SETOPT(o, ch, CURLOPT_NOSIGNAL, 1L);
	SETOPT(o, ch, CURLOPT_ERRORBUFFER, ch->errbuf);
	SETOPT(o, ch, CURLOPT_WRITEFUNCTION, on_body);
	SETOPT(o, ch, CURLOPT_WRITEDATA, ch);
	SETOPT(o, ch, CURLOPT_HEADERFUNCTION, on_header);
	SETOPT(o, ch, CURLOPT_HEADERDATA, ch);
	SETOPT(o, ch, CURLOPT_OPENSOCKETFUNCTION, on_open_socket);
	SETOPT(o, ch, CURLOPT_OPENSOCKETDATA, ch);
	SETOPT(o, ch, CURLOPT_CLOSESOCKETFUNCTION, on_close_socket);
	SETOPT(o, ch, CURLOPT_CLOSESOCKETDATA, ch);
	if (c->version_num >= 0x075500u)
		SETOPT(o, ch, CURLOPT_PROTOCOLS_STR, "http,https");
	else
		SETOPT(o, ch, CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
	if (o->certificate[0])
		SETOPT(o, ch, CURLOPT_CAINFO, o->certificate);
	if (ch->abandoned >= WEFT_OTLP_MAX_ABANDONED)
		SETOPT(o, ch, CURLOPT_FORBID_REUSE, 1L);
	if (!ok) {
		weft_warn("otlp: libcurl %s refused an option for %s; dropping the %s", c->version,
			  ch->shown, ch->name);
		/* Not connected: leaving them costs memory, never a descriptor. */
		ch->easy = NULL;
		ch->multi = NULL;
		return -EINVAL;
	}
	return 0;
}

/*
 * Before reusing the connection: are its sockets still ours? If the program
 * closed one (and perhaps reused its number), the handles are abandoned and
 * replaced; libcurl never touches that descriptor again.
 */
static int channel_ready(struct weft_otlp *o, struct weft_otlp_channel *ch)
{
	if (ch->easy && !weft_sockets_intact(&ch->socks)) {
		weft_debug("otlp: the %s connection's socket is no longer weft's; reconnecting",
			   ch->name);
		weft_sockets_abandon(&ch->socks);
		ch->easy = NULL;
		ch->multi = NULL;
		if (ch->abandoned < WEFT_OTLP_MAX_ABANDONED)
			ch->abandoned++;
	}
	if (!ch->easy)
		return channel_new_handles(o, ch);
	return 0;
}

/* --- One attempt ---------------------------------------------------------- */

static bool curl_retryable(CURLcode rc)
{
	switch (rc) {
	case CURLE_COULDNT_RESOLVE_PROXY:
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_CONNECT:
	case CURLE_OPERATION_TIMEDOUT:
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
	case CURLE_GOT_NOTHING:
	case CURLE_PARTIAL_FILE:
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_HTTP2:
	case CURLE_HTTP2_STREAM:
		return true;
	default:
		return false;
	}
}

static int curl_errno(CURLcode rc)
{
	switch (rc) {
	case CURLE_COULDNT_CONNECT:
		return -ECONNREFUSED;
	case CURLE_OPERATION_TIMEDOUT:
		return -ETIMEDOUT;
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_RESOLVE_PROXY:
		return -EHOSTUNREACH;
	case CURLE_OUT_OF_MEMORY:
		return -ENOMEM;
	default:
		return -EIO;
	}
}

static bool status_retryable(long status)
{
	return status == 429 || status == 502 || status == 503 || status == 504;
}

/* Retry-After: a number of seconds, or an HTTP date. */
static bool parse_retry_after(const struct weft_curl *c, const char *s, uint64_t *ns)
{
	uint64_t secs = 0;
	const char *p = s;

	if (!*s)
		return false;
	while (*p >= '0' && *p <= '9') {
		if (secs < UINT64_C(1) << 32)
			secs = secs * 10 + (uint64_t)(*p - '0');
		p++;
	}
	if (p != s && !*p) {
		*ns = secs * NSEC_PER_SEC;
		return true;
	}
	{
		time_t when = c->getdate(s, NULL), now = time(NULL);

		if (when == (time_t)-1)
			return false;
		*ns = when > now ? (uint64_t)(when - now) * NSEC_PER_SEC : 0;
		return true;
	}
}

/* Runs the transfer to its end with the multi interface. */
static CURLcode run_transfer(struct weft_otlp *o, struct weft_otlp_channel *ch)
{
	const struct weft_curl *c = o->c;
	CURLcode result = CURLE_FAILED_INIT;
	CURLMcode mc;
	CURLMsg *msg;
	int running = 1, queued;

	atomic_store(&in_libcurl, 1);
	mc = c->multi_add_handle(ch->multi, ch->easy);
	if (mc != CURLM_OK) {
		snprintf(ch->errbuf, sizeof(ch->errbuf), "%s", c->multi_strerror(mc));
		atomic_store(&in_libcurl, 0);
		return CURLE_FAILED_INIT;
	}
	for (;;) {
		mc = c->multi_perform(ch->multi, &running);
		if (mc != CURLM_OK || !running)
			break;
		/* CURLOPT_TIMEOUT_MS bounds the transfer; this only paces the loop. */
		mc = c->multi_wait(ch->multi, NULL, 0, 1000, NULL);
		if (mc != CURLM_OK)
			break;
	}
	while ((msg = c->multi_info_read(ch->multi, &queued)) != NULL)
		if (msg->msg == CURLMSG_DONE && msg->easy_handle == ch->easy)
			result = msg->data.result;
	if (mc != CURLM_OK && !ch->errbuf[0])
		snprintf(ch->errbuf, sizeof(ch->errbuf), "%s", c->multi_strerror(mc));
	c->multi_remove_handle(ch->multi, ch->easy);
	atomic_store(&in_libcurl, 0);
	return result;
}

static void log_partial_success(struct weft_otlp_channel *ch)
{
	char msg[256];
	int64_t rejected;

	if (ch->partial_logged || !ch->body_len)
		return;
	if (weft_otlp_decode_partial_success((int)ch->signal, ch->body, ch->body_len, &rejected,
					     msg, sizeof(msg)) != 0)
		return;
	if (rejected <= 0 && !msg[0])
		return;
	ch->partial_logged = true;
	weft_warn("collector rejected %" PRId64 " %s: %s", rejected, ch->items,
		  msg[0] ? msg : "(no message)");
}

static enum weft_otlp_outcome attempt(struct weft_otlp *o, struct weft_otlp_channel *ch,
				      const uint8_t *body, size_t len, uint64_t budget_ns,
				      struct weft_otlp_failure *f)
{
	const struct weft_curl *c = o->c;
	uint64_t limit = budget_ns < o->request_timeout_ns ? budget_ns : o->request_timeout_ns;
	long ms = (long)(limit / NSEC_PER_MSEC), status = 0;
	bool ok = true;
	CURLcode rc;
	int err;

	f->has_retry_after = false;
	err = channel_ready(o, ch);
	if (err) {
		f->err = err;
		f->kind = 999;
		snprintf(f->why, sizeof(f->why), "cannot set up libcurl (%s)", strerror(-err));
		return WEFT_OTLP_FINAL;
	}
	if (ms < 1)
		ms = 1;
	SETOPT(o, ch, CURLOPT_POSTFIELDS, body);
	SETOPT(o, ch, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
	SETOPT(o, ch, CURLOPT_TIMEOUT_MS, ms);
	SETOPT(o, ch, CURLOPT_CONNECTTIMEOUT_MS, ms);
	ch->body_len = 0;
	ch->status_line[0] = '\0';
	ch->retry_after[0] = '\0';
	ch->errbuf[0] = '\0';
	rc = ok ? run_transfer(o, ch) : CURLE_BAD_FUNCTION_ARGUMENT;
	if (rc != CURLE_OK) {
		f->err = curl_errno(rc);
		f->kind = 1000 + (long)rc;
		snprintf(f->why, sizeof(f->why), "%s%s%s%s", c->easy_strerror(rc),
			 ch->errbuf[0] ? " (" : "", ch->errbuf, ch->errbuf[0] ? ")" : "");
		return curl_retryable(rc) ? WEFT_OTLP_RETRY : WEFT_OTLP_FINAL;
	}
	c->easy_getinfo(ch->easy, CURLINFO_RESPONSE_CODE, &status);
	if (status >= 200 && status < 300) {
		log_partial_success(ch);
		return WEFT_OTLP_SENT;
	}
	f->err = status == 429 || status == 503 ? -EAGAIN : -EIO;
	f->kind = status;
	snprintf(f->why, sizeof(f->why), "%s",
		 ch->status_line[0] ? ch->status_line : "an HTTP response without a status");
	if (!status_retryable(status))
		return WEFT_OTLP_FINAL;
	f->has_retry_after = parse_retry_after(c, ch->retry_after, &f->retry_after_ns);
	return WEFT_OTLP_RETRY;
}

/* --- An export, retries included ---------------------------------------- */

/*
 * The export's deadline, cut short once the program is exiting so that the
 * final export fits OTEL_BSP_EXPORT_TIMEOUT: the exporter's final export
 * starts no earlier than the moment the exit is first seen here.
 */
static uint64_t effective_deadline(struct weft_otlp *o, struct weft_otlp_channel *ch,
				   uint64_t deadline)
{
	uint64_t cut;

	if (!o->exit_seen_ns && (weft_load_acquire(&weft_process.exit_code_set) ||
				 weft_load_acquire(&weft_process.exiting)))
		o->exit_seen_ns = weft_clock_now();
	if (!o->exit_seen_ns)
		return deadline;
	cut = o->exit_seen_ns + o->exit_budget_ns / 100 * ch->exit_share;
	return cut < deadline ? cut : deadline;
}

/* The wait before the next attempt: backoff * [0.5, 1.5). */
static uint64_t jittered(struct weft_otlp *o, uint64_t backoff)
{
	uint64_t r = weft_ids_next(&o->rng) % 1024;

	return backoff / 2 + backoff / 1024 * r;
}

static void nap(uint64_t ns)
{
	struct timespec ts = {.tv_sec = (time_t)(ns / NSEC_PER_SEC),
			      .tv_nsec = (long)(ns % NSEC_PER_SEC)};

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

static void report_failure(struct weft_otlp_channel *ch, const struct weft_otlp_failure *f,
			   size_t items, unsigned attempts, bool retryable)
{
	char tries[48] = "";

	for (size_t i = 0; i < ch->n_seen; i++)
		if (ch->seen[i] == f->kind)
			return;
	if (ch->n_seen < WEFT_OTLP_SEEN_KINDS)
		ch->seen[ch->n_seen++] = f->kind;
	if (attempts > 1)
		snprintf(tries, sizeof(tries), " (%u attempts)", attempts);
	weft_warn("otlp: cannot export %s to %s: %s%s; %zu %s dropped%s (further failures "
		  "like this one are counted in weft.agent.export.failures, not printed)",
		  ch->name, ch->shown, f->why, tries, items, ch->items,
		  retryable ? "" : ", not retried");
}

static int channel_send(struct weft_otlp *o, struct weft_otlp_channel *ch, const uint8_t *body,
			size_t len, size_t items)
{
	uint64_t now = weft_clock_now(), deadline = now + ch->export_timeout_ns;
	uint64_t backoff = WEFT_OTLP_BACKOFF_INITIAL, d, wake;
	struct weft_otlp_failure f = {.err = -ETIMEDOUT, .kind = 998};
	unsigned attempts = 0;
	bool once = false;

	snprintf(f.why, sizeof(f.why), "no time left before the export deadline");
	if (now < ch->quiet_until) {
		/*
		 * The collector was found down moments ago: drop at once, but at
		 * exit try once more (without retrying) rather than lose the last
		 * data to a collector that may be back.
		 */
		effective_deadline(o, ch, deadline);
		if (!o->exit_seen_ns)
			return ch->quiet_err;
		once = true;
	}
	for (;;) {
		d = effective_deadline(o, ch, deadline);
		now = weft_clock_now();
		if (now + WEFT_OTLP_MIN_ATTEMPT > d)
			break;
		attempts++;
		switch (attempt(o, ch, body, len, d - now, &f)) {
		case WEFT_OTLP_SENT:
			return 0;
		case WEFT_OTLP_FINAL:
			report_failure(ch, &f, items, attempts, false);
			return f.err;
		case WEFT_OTLP_RETRY:
			break;
		}
		if (once)
			goto give_up;
		wake = weft_clock_now() +
		       (f.has_retry_after ? f.retry_after_ns : jittered(o, backoff));
		backoff = backoff * 2 < WEFT_OTLP_BACKOFF_MAX ? backoff * 2 : WEFT_OTLP_BACKOFF_MAX;
		/* Wait, unless the next attempt would come too late anyway. */
		for (;;) {
			d = effective_deadline(o, ch, deadline);
			if (o->exit_seen_ns) {
				/* Exiting: the last retry starts at the end of the window. */
				uint64_t last = o->exit_seen_ns + o->exit_window_ns;

				if (wake > last) {
					if (f.has_retry_after || weft_clock_now() >= last)
						goto give_up;
					wake = last;
				}
			}
			if (wake + WEFT_OTLP_MIN_ATTEMPT > d)
				goto give_up;
			now = weft_clock_now();
			if (now >= wake)
				break;
			nap(wake - now < WEFT_OTLP_NAP ? wake - now : WEFT_OTLP_NAP);
		}
	}
give_up:
	if (attempts) {
		/* The other signal's collector, if it is the same, is down too. */
		ch->quiet_until = weft_clock_now() + WEFT_OTLP_COOLDOWN;
		ch->quiet_err = f.err;
		if (ch->sibling) {
			ch->sibling->quiet_until = ch->quiet_until;
			ch->sibling->quiet_err = f.err;
		}
	}
	report_failure(ch, &f, items, attempts, true);
	return f.err;
}

/* Encoded body → maybe gzip → channel_send. */
static int send_body(struct weft_otlp *o, struct weft_otlp_channel *ch, uint8_t *buf, size_t len,
		     size_t items)
{
	const uint8_t *body = buf;
	size_t body_len = len;
	int err;

	if (o->gz) {
		err = weft_gzip_compress(o->gz, buf, len, &body, &body_len);
		if (err) {
			weft_free(buf);
			return err;
		}
	}
	err = channel_send(o, ch, body, body_len, items);
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
	return send_body(o, &o->ch[WEFT_OTLP_SIGNAL_TRACES], buf, len, n);
}

static int otlp_export_metrics(struct weft_sink *sink, const struct weft_resource *res,
			       const struct weft_metric *metrics, size_t n)
{
	struct weft_otlp *o = sink_otlp(sink);
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
	return send_body(o, &o->ch[WEFT_OTLP_SIGNAL_METRICS], buf, len, points);
}

/*
 * Nothing is buffered here, so there is nothing to flush. The handles are not
 * cleaned up (see the top of the file): the process is about to end, and the
 * kernel closes the connections.
 */
static void otlp_shutdown(struct weft_sink *sink)
{
	struct weft_otlp *o = sink_otlp(sink);

	if (o->fallback && o->fallback->shutdown)
		o->fallback->shutdown(o->fallback);
}

static int channel_open(struct weft_otlp *o, struct weft_otlp_channel *ch,
			enum weft_otlp_signal signal, const struct weft_config *cfg)
{
	const bool traces = signal == WEFT_OTLP_SIGNAL_TRACES;
	const char *own_var =
	    traces ? "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT" : "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT";
	bool from_own;
	char why[160];

	ch->o = o;
	ch->signal = signal;
	ch->name = traces ? "traces" : "metrics";
	ch->items = traces ? "spans" : "data points";
	ch->export_timeout_ns = traces ? cfg->bsp_export_timeout_ns : cfg->metric_timeout_ns;
	ch->exit_share = traces ? WEFT_OTLP_EXIT_SHARE_TRACES : WEFT_OTLP_EXIT_SHARE_METRICS;
	signal_url(cfg->endpoint, traces ? cfg->traces_endpoint : cfg->metrics_endpoint,
		   traces ? "v1/traces" : "v1/metrics", ch->url, sizeof(ch->url), &from_own);
	shown_url(ch->url, ch->shown, sizeof(ch->shown));
	if (!url_valid(o->c, ch->url, why, sizeof(why))) {
		weft_warn("%s=%s: %s; the otlp output is off, writing the file output instead",
			  from_own ? own_var : "OTEL_EXPORTER_OTLP_ENDPOINT", ch->shown, why);
		return -EINVAL;
	}
	ch->body = weft_alloc(WEFT_OTLP_RESPONSE_MAX);
	if (!ch->body)
		return -ENOMEM;
	weft_sockets_init(&ch->socks);
	return build_headers(
	    o, ch, cfg->headers, traces ? cfg->traces_headers : cfg->metrics_headers,
	    traces ? "OTEL_EXPORTER_OTLP_TRACES_HEADERS" : "OTEL_EXPORTER_OTLP_METRICS_HEADERS");
}

/* A forked child: the parent's connections are closed here and never used. */
static void retire_parent_sink(void)
{
	if (!current || current->pid == getpid())
		return;
	for (int s = 0; s < 2; s++)
		if (current->has[s])
			weft_sockets_abandon(&current->ch[s].socks);
	current = NULL; /* its memory is the parent's copy: leaked, never freed */
}

struct weft_sink *weft_otlp_open(const struct weft_config *cfg)
{
	const bool want[2] = {(cfg->traces_out & WEFT_OUT_OTLP) != 0,
			      (cfg->metrics_out & WEFT_OUT_OTLP) != 0};
	const struct weft_curl *c;
	struct weft_otlp *o;

	bool unsafe = atomic_load(&in_libcurl) != 0;

	retire_parent_sink();
	c = NULL;
	if (!unsafe) {
		atomic_store(&in_libcurl, 1);
		c = weft_curl_load();
		atomic_store(&in_libcurl, 0);
		if (!c) {
			weft_warn("%s; writing the file output instead", weft_curl_error());
			return NULL;
		}
	}
	o = weft_zalloc(sizeof(*o));
	if (!o)
		return NULL;
	o->c = c;
	o->fork_unsafe = unsafe;
	o->pid = getpid();
	o->request_timeout_ns = cfg->otlp_timeout_ns;
	o->exit_budget_ns = cfg->bsp_export_timeout_ns;
	o->exit_window_ns = cfg->bsp_export_timeout_ns / 4 < WEFT_OTLP_EXIT_RETRY_WINDOW
				? cfg->bsp_export_timeout_ns / 4
				: WEFT_OTLP_EXIT_RETRY_WINDOW;
	snprintf(o->certificate, sizeof(o->certificate), "%s", cfg->certificate);
	snprintf(o->user_agent, sizeof(o->user_agent), "weft/%s", WEFT_VERSION);
	weft_ids_seed(&o->rng, (uint64_t)getpid() ^ 0x6f746c70u);
	if (cfg->gzip && !unsafe) {
		atomic_store(&in_libcurl, 1);
		o->gz = weft_gzip_new(); /* NULL: uncompressed, after a warning */
		atomic_store(&in_libcurl, 0);
	}
	for (int s = 0; s < 2; s++) {
		int err;

		if (!want[s])
			continue;
		if (unsafe) {
			o->has[s] = true;
			continue;
		}
		err = channel_open(o, &o->ch[s], (enum weft_otlp_signal)s, cfg);
		if (err) {
			if (err == -ENOMEM)
				weft_warn("otlp: out of memory; writing the file output instead");
			/* Nothing connected yet: the partial sink is simply leaked. */
			return NULL;
		}
		o->has[s] = true;
	}
	if (o->has[0] && o->has[1] && !unsafe && same_origin(o->ch[0].url, o->ch[1].url)) {
		o->ch[0].sibling = &o->ch[1];
		o->ch[1].sibling = &o->ch[0];
	}
	o->sink.name = "otlp";
	o->sink.export_spans = otlp_export_spans;
	o->sink.export_metrics = otlp_export_metrics;
	o->sink.shutdown = otlp_shutdown;
	o->sink.priv = o;
	current = o;
	return &o->sink;
}
