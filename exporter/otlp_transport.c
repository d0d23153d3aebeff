/*
 * The transport of the otlp output: see otlp_transport.h.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "agent/alloc.h"
#include "agent/log.h"
#include "exporter/otlp_transport.h"
#include "exporter/otlp_url.h"

/*
 * Stored with sequential consistency so that the value a fork copies is never
 * older than the work it guards.
 */
static _Atomic int in_libcurl;

bool weft_otlp_in_libcurl(void)
{
	return atomic_load(&in_libcurl) != 0;
}

void weft_otlp_in_libcurl_set(bool inside)
{
	atomic_store(&in_libcurl, inside ? 1 : 0);
}

/* --- libcurl callbacks ---------------------------------------------------- */

static size_t on_body(char *p, size_t size, size_t n, void *arg)
{
	struct weft_otlp_conn *k = arg;
	size_t len = size * n, room = WEFT_OTLP_RESPONSE_MAX - k->body_len;

	/*
	 * Only the head matters (a partial success). A longer answer is not read
	 * further: returning less than len ends the transfer (CURLE_WRITE_ERROR),
	 * which the attempt then reads as the answer it was.
	 */
	if (len > room) {
		memcpy(k->body + k->body_len, p, room);
		k->body_len += room;
		k->body_cut = true;
		return 0;
	}
	memcpy(k->body + k->body_len, p, len);
	k->body_len += len;
	return len;
}

static size_t on_header(char *p, size_t size, size_t n, void *arg)
{
	struct weft_otlp_conn *k = arg;
	size_t len = size * n;

	if (weft_otlp_prefix_nocase(p, len, "HTTP/")) {
		/* A new response (after a 100 Continue, say): forget the last one's. */
		weft_otlp_copy_trimmed(k->status_line, sizeof(k->status_line), p, len);
		k->retry_after[0] = '\0';
	} else if (weft_otlp_prefix_nocase(p, len, "retry-after:")) {
		weft_otlp_copy_trimmed(k->retry_after, sizeof(k->retry_after), p + 12, len - 12);
	}
	return len;
}

static curl_socket_t on_open_socket(void *arg, curlsocktype purpose, struct curl_sockaddr *a)
{
	struct weft_otlp_conn *k = arg;
	int fd = weft_sockets_open(&k->socks, a->family, a->socktype, a->protocol);

	return fd < 0 ? CURL_SOCKET_BAD : fd;
}

static int on_close_socket(void *arg, curl_socket_t fd)
{
	struct weft_otlp_conn *k = arg;

	return weft_sockets_close(&k->socks, fd);
}

/* --- Handles -------------------------------------------------------------- */

#define SETOPT(k, opt, val) (ok &= (k)->c->easy_setopt((k)->easy, (opt), (val)) == CURLE_OK)

int weft_otlp_conn_init(struct weft_otlp_conn *k)
{
	k->body = weft_alloc(WEFT_OTLP_RESPONSE_MAX);
	weft_sockets_init(&k->socks);
	return k->body ? 0 : -ENOMEM;
}

static int new_handles(struct weft_otlp_conn *k)
{
	const struct weft_curl *c = k->c;
	bool ok = true;

	k->multi = c->multi_init();
	k->easy = c->easy_init();
	if (!k->multi || !k->easy) {
		/* Nothing is connected yet: these hold no socket of the program's. */
		k->multi = NULL;
		k->easy = NULL;
		return -ENOMEM;
	}
	weft_sockets_init(&k->socks);
	SETOPT(k, CURLOPT_URL, k->url);
	SETOPT(k, CURLOPT_HTTPHEADER, k->headers);
	SETOPT(k, CURLOPT_USERAGENT, k->user_agent);
	SETOPT(k, CURLOPT_POST, 1L);
	/* Never SIGALRM for DNS timeouts, never touch the program's SIGPIPE. */
	SETOPT(k, CURLOPT_NOSIGNAL, 1L);
	SETOPT(k, CURLOPT_ERRORBUFFER, k->errbuf);
	SETOPT(k, CURLOPT_WRITEFUNCTION, on_body);
	SETOPT(k, CURLOPT_WRITEDATA, k);
	SETOPT(k, CURLOPT_HEADERFUNCTION, on_header);
	SETOPT(k, CURLOPT_HEADERDATA, k);
	SETOPT(k, CURLOPT_OPENSOCKETFUNCTION, on_open_socket);
	SETOPT(k, CURLOPT_OPENSOCKETDATA, k);
	SETOPT(k, CURLOPT_CLOSESOCKETFUNCTION, on_close_socket);
	SETOPT(k, CURLOPT_CLOSESOCKETDATA, k);
	if (c->version_num >= 0x075500u)
		SETOPT(k, CURLOPT_PROTOCOLS_STR, "http,https");
	else
		SETOPT(k, CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
	if (k->certificate && k->certificate[0])
		SETOPT(k, CURLOPT_CAINFO, k->certificate);
	if (k->abandoned >= WEFT_OTLP_MAX_ABANDONED)
		SETOPT(k, CURLOPT_FORBID_REUSE, 1L);
	if (!ok) {
		weft_warn("otlp: libcurl %s refused an option for %s; dropping the %s", c->version,
			  k->shown, k->name);
		/* Not connected: leaving them costs memory, never a descriptor. */
		k->easy = NULL;
		k->multi = NULL;
		return -EINVAL;
	}
	return 0;
}

/*
 * Before reusing the connection: are its sockets still ours? If the program
 * closed one (and perhaps reused its number), the handles are abandoned and
 * replaced; libcurl never touches that descriptor again.
 */
static int conn_ready(struct weft_otlp_conn *k)
{
	if (k->easy && !weft_sockets_intact(&k->socks)) {
		weft_debug("otlp: the %s connection's socket is no longer weft's; reconnecting",
			   k->name);
		weft_sockets_abandon(&k->socks);
		k->easy = NULL;
		k->multi = NULL;
		if (k->abandoned < WEFT_OTLP_MAX_ABANDONED)
			k->abandoned++;
	}
	if (!k->easy)
		return new_handles(k);
	return 0;
}

void weft_otlp_conn_retire(struct weft_otlp_conn *k)
{
	weft_sockets_abandon(&k->socks);
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

/* A connection that was made and then broke (reset, closed under us). */
static bool curl_broken(CURLcode rc)
{
	switch (rc) {
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
	case CURLE_GOT_NOTHING:
	case CURLE_PARTIAL_FILE:
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

/*
 * Runs the transfer to its end with the multi interface, or until the
 * export's deadline (which the exit may bring closer) has passed.
 */
static CURLcode run_transfer(struct weft_otlp_conn *k, struct weft_otlp_try *t)
{
	const struct weft_curl *c = k->c;
	CURLcode result = CURLE_FAILED_INIT;
	CURLMcode mc;
	CURLMsg *msg;
	int running = 1, queued;
	bool cut = false;

	weft_otlp_in_libcurl_set(true);
	mc = c->multi_add_handle(k->multi, k->easy);
	if (mc != CURLM_OK) {
		snprintf(k->errbuf, sizeof(k->errbuf), "%s", c->multi_strerror(mc));
		weft_otlp_in_libcurl_set(false);
		return CURLE_FAILED_INIT;
	}
	for (;;) {
		mc = c->multi_perform(k->multi, &running);
		if (mc != CURLM_OK || !running)
			break;
		if (t->env->now(t->env->arg) >= weft_otlp_try_deadline(t)) {
			cut = true;
			break;
		}
		/* CURLOPT_TIMEOUT_MS bounds the transfer; the exit may end it sooner. */
		mc = c->multi_wait(k->multi, NULL, 0,
				   (int)(WEFT_OTLP_NAP / WEFT_OTLP_NSEC_PER_MSEC), NULL);
		if (mc != CURLM_OK)
			break;
	}
	while ((msg = c->multi_info_read(k->multi, &queued)) != NULL)
		if (msg->msg == CURLMSG_DONE && msg->easy_handle == k->easy)
			result = msg->data.result;
	if (cut) {
		result = CURLE_OPERATION_TIMEDOUT;
		snprintf(k->errbuf, sizeof(k->errbuf),
			 "no answer before the program's exit deadline");
	}
	if (mc != CURLM_OK && !k->errbuf[0])
		snprintf(k->errbuf, sizeof(k->errbuf), "%s", c->multi_strerror(mc));
	/* A transfer cut short closes its connection (through on_close_socket). */
	c->multi_remove_handle(k->multi, k->easy);
	weft_otlp_in_libcurl_set(false);
	return result;
}

enum weft_otlp_outcome weft_otlp_conn_attempt(void *arg, const uint8_t *body, size_t len,
					      struct weft_otlp_try *t, struct weft_otlp_failure *f)
{
	struct weft_otlp_conn *k = arg;
	const struct weft_curl *c = k->c;
	long ms = (long)(weft_otlp_try_limit(t) / WEFT_OTLP_NSEC_PER_MSEC), status = 0;
	bool ok = true;
	CURLcode rc;
	int err;

	f->has_retry_after = false;
	f->transport = false;
	f->broken = false;
	err = conn_ready(k);
	if (err) {
		f->err = err;
		f->kind = 999;
		snprintf(f->why, sizeof(f->why), "cannot set up libcurl (%s)", strerror(-err));
		return WEFT_OTLP_FINAL;
	}
	if (ms < 1)
		ms = 1;
	SETOPT(k, CURLOPT_POSTFIELDS, body);
	SETOPT(k, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
	SETOPT(k, CURLOPT_TIMEOUT_MS, ms);
	SETOPT(k, CURLOPT_CONNECTTIMEOUT_MS, ms);
	k->body_len = 0;
	k->body_cut = false;
	k->status_line[0] = '\0';
	k->retry_after[0] = '\0';
	k->errbuf[0] = '\0';
	rc = ok ? run_transfer(k, t) : CURLE_BAD_FUNCTION_ARGUMENT;
	/* The body was longer than weft reads: the answer is complete enough. */
	if (rc == CURLE_WRITE_ERROR && k->body_cut)
		rc = CURLE_OK;
	if (rc != CURLE_OK) {
		f->err = curl_errno(rc);
		f->kind = 1000 + (long)rc;
		f->transport = true;
		f->broken = curl_broken(rc);
		snprintf(f->why, sizeof(f->why), "%s%s%s%s", c->easy_strerror(rc),
			 k->errbuf[0] ? " (" : "", k->errbuf, k->errbuf[0] ? ")" : "");
		return curl_retryable(rc) ? WEFT_OTLP_RETRY : WEFT_OTLP_FINAL;
	}
	c->easy_getinfo(k->easy, CURLINFO_RESPONSE_CODE, &status);
	if (status >= 200 && status < 300)
		return WEFT_OTLP_SENT;
	f->err = status == 429 || status == 503 ? -EAGAIN : -EIO;
	f->kind = status;
	snprintf(f->why, sizeof(f->why), "%s",
		 k->status_line[0] ? k->status_line : "an HTTP response without a status");
	if (!weft_otlp_status_retryable(status))
		return WEFT_OTLP_FINAL;
	f->has_retry_after = weft_otlp_retry_after_parse(k->retry_after, time(NULL), c->getdate,
							 &f->retry_after_ns);
	return WEFT_OTLP_RETRY;
}
