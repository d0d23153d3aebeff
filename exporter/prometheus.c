/*
 * The `prometheus` output's endpoint: a listening socket and a very small
 * HTTP/1.1 server, on the exporter thread (see prometheus.h).
 *
 * The exporter thread normally sleeps on a futex (agent/consumer.h), which
 * cannot also wait for a descriptor. With the endpoint open it sleeps in
 * ppoll(2) on the listening socket and on an eventfd that weft_consumer_wake
 * writes besides the futex word (weft_consumer_wake_fd): the program's
 * threads still wake it when a ring fills, at one more system call per wake.
 *
 * A client is accepted and served in one go, one at a time: the request
 * (line and headers, at most WEFT_PROMETHEUS_REQUEST_MAX bytes) is read, the
 * answer written, the connection closed, all within
 * WEFT_PROMETHEUS_DEADLINE_MS of the accept. A client that sends nothing, or
 * reads nothing, holds the exporter that long and no longer; the rings are
 * drained again before the next client is taken. Only `GET` and `HEAD` of
 * `/metrics` are answered 200 (a query string is ignored); another path is
 * 404, another method 405, a request that is not HTTP 400, one too large 431.
 * Every answer closes the connection.
 *
 * Every descriptor is owned through agent/fd.h (high numbers, close-on-exec,
 * safe from the program's close) and pinned: a program's dup2 onto one of
 * them takes the number at once and leaves weft's handle stale, rather than
 * waiting for a sleep in poll to end. So the polls, which only look, use the
 * bare numbers; every call that reads, writes or accepts is bracketed with
 * weft_fd_use, which fails on a stale handle, so weft never reads or writes
 * a descriptor that has become the program's.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "agent/agent.h"
#include "agent/clock.h"
#include "agent/consumer.h"
#include "agent/fd.h"
#include "agent/log.h"
#include "exporter/json.h"
#include "exporter/prometheus.h"

/* A body that grew past this (a scrape of many series) is given back after. */
#define KEEP_BUFFER (4u << 20)

static struct {
	int listener, wake; /* handles, or -1 */
	struct weft_json body;
	char request[WEFT_PROMETHEUS_REQUEST_MAX];
} pm = { .listener = -1, .wake = -1 };

static const char content_type[] = "text/plain; version=0.0.4; charset=utf-8";

/* --- Opening ------------------------------------------------------------ */

/*
 * The address to bind: `localhost` is 127.0.0.1 (what a scrape of
 * localhost:9464 reaches first, whatever the resolver orders), a numeric
 * address is itself, anything else the first address getaddrinfo gives,
 * IPv4 preferred.
 */
static int resolve(const char *host, unsigned port, struct sockaddr_storage *sa, socklen_t *len)
{
	struct sockaddr_in *v4 = (struct sockaddr_in *)sa;
	struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)sa;
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE }, *res, *a;
	int r;

	memset(sa, 0, sizeof(*sa));
	if (strcmp(host, "localhost") == 0)
		host = "127.0.0.1";
	if (inet_pton(AF_INET, host, &v4->sin_addr) == 1) {
		v4->sin_family = AF_INET;
		v4->sin_port = htons((uint16_t)port);
		*len = sizeof(*v4);
		return 0;
	}
	if (inet_pton(AF_INET6, host, &v6->sin6_addr) == 1) {
		v6->sin6_family = AF_INET6;
		v6->sin6_port = htons((uint16_t)port);
		*len = sizeof(*v6);
		return 0;
	}
	r = getaddrinfo(host, NULL, &hints, &res);
	if (r != 0)
		return r == EAI_SYSTEM ? -errno : -EADDRNOTAVAIL;
	for (a = res; a && a->ai_family != AF_INET; a = a->ai_next)
		;
	for (a = a ? a : res; a && a->ai_family != AF_INET6 && a->ai_family != AF_INET;)
		a = a->ai_next;
	r = -EADDRNOTAVAIL;
	if (a && a->ai_addrlen <= sizeof(*sa)) {
		memcpy(sa, a->ai_addr, a->ai_addrlen);
		*len = a->ai_addrlen;
		if (a->ai_family == AF_INET)
			v4->sin_port = htons((uint16_t)port);
		else
			v6->sin6_port = htons((uint16_t)port);
		r = 0;
	}
	freeaddrinfo(res);
	return r;
}

static int listen_on(const struct sockaddr_storage *sa, socklen_t len)
{
	int h = weft_fd_socket(sa->ss_family, SOCK_STREAM | SOCK_NONBLOCK, 0, WEFT_FD_PINNED);
	int fd, r = 0;
	int one = 1;

	if (h < 0)
		return h;
	fd = weft_fd_use(h);
	if (fd < 0) {
		weft_fd_close(h);
		return fd;
	}
	/* SO_REUSEADDR lets a restart bind past TIME_WAIT; it never shares a live port. */
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (const struct sockaddr *)sa, len) != 0 || listen(fd, 16) != 0)
		r = -errno;
	weft_fd_unuse(h);
	if (r < 0) {
		weft_fd_close(h);
		return r;
	}
	return h;
}

int weft_prometheus_prepare(void)
{
	if (pm.wake < 0) {
		int h = weft_fd_eventfd(0, WEFT_FD_PINNED);

		if (h < 0)
			return h;
		pm.wake = h;
	}
	return 0;
}

int weft_prometheus_open(void)
{
	struct sockaddr_storage sa;
	socklen_t len = 0;
	const char *host = weft_cfg.prometheus_host;
	unsigned port = weft_cfg.prometheus_port;
	char shown[WEFT_LOG_ESCAPED_SIZE];
	int r;

	if (pm.listener >= 0)
		return 0;
	r = resolve(host, port, &sa, &len);
	if (r == 0)
		r = pm.listener = listen_on(&sa, len);
	if (r >= 0)
		r = weft_prometheus_prepare();
	if (r < 0) {
		weft_prometheus_close();
		weft_warn("prometheus: cannot listen on %s:%u (%s); metrics are not served",
			  weft_log_escape(host, strlen(host), shown, sizeof(shown)), port,
			  strerrordesc_np(-r));
		return r;
	}
	weft_json_init(&pm.body);
	weft_store_release(&weft_consumer_wake_fd, pm.wake);
	return 0;
}

bool weft_prometheus_active(void)
{
	return pm.listener >= 0;
}

void weft_prometheus_close(void)
{
	/* Wakes stop writing first; a late one finds the handle stale (fd.h). */
	weft_store_release(&weft_consumer_wake_fd, -1);
	if (pm.wake >= 0)
		weft_fd_close(pm.wake);
	if (pm.listener >= 0)
		weft_fd_close(pm.listener);
	pm.wake = pm.listener = -1;
	weft_json_free(&pm.body);
}

void weft_prometheus_after_fork(void)
{
	weft_store_relaxed(&weft_consumer_wake_fd, -1);
	pm.wake = pm.listener = -1;
	/* The parent's buffer may have been in use at the fork: left, not freed. */
	memset(&pm.body, 0, sizeof(pm.body));
}

/* --- Waiting ------------------------------------------------------------ */

bool weft_prometheus_wait(uint32_t seen, uint64_t timeout_ns)
{
	struct timespec ts = { .tv_sec = (time_t)(timeout_ns / 1000000000u),
			       .tv_nsec = (long)(timeout_ns % 1000000000u) };
	struct pollfd fds[2] = { { .fd = weft_fd_number(pm.listener), .events = POLLIN },
				 { .fd = weft_fd_number(pm.wake), .events = POLLIN } };
	bool client = false;

	/* The program's threads wake it through the program's number. */
	if (fds[0].fd < 0 || fds[1].fd < 0 || !weft_fd_in_program_table(pm.wake)) {
		weft_warn("prometheus: the program took the endpoint's descriptor (dup2); metrics "
			  "are no longer served");
		weft_prometheus_close();
		weft_consumer_wait(seen, timeout_ns);
		return false;
	}
	/* As the futex would: no sleep once the word has moved on. */
	if (weft_load_relaxed(&weft_consumer_word) == seen &&
	    ppoll(fds, 2, timeout_ns >= UINT64_C(1) << 62 ? NULL : &ts, NULL) > 0) {
		if (fds[1].revents & POLLIN) {
			int efd = weft_fd_use(pm.wake);
			uint64_t count;

			if (efd >= 0) {
				(void)!read(efd, &count, sizeof(count));
				weft_fd_unuse(pm.wake);
			}
		}
		client = fds[0].revents & POLLIN;
	}
	return client;
}

/* --- Serving ------------------------------------------------------------ */

static int remaining_ms(uint64_t deadline)
{
	uint64_t now = weft_clock_now();

	return now >= deadline ? 0 : (int)((deadline - now + 999999) / 1000000);
}

/* Waits until the connection is ready for `events`; -ETIMEDOUT past the deadline. */
static int await(int h, short events, uint64_t deadline)
{
	struct pollfd p = { .events = events };
	int ms = remaining_ms(deadline), r;

	/* The process is exiting: its final export does not wait for a client. */
	if (ms == 0 || weft_load_acquire(&weft_process.exiting))
		return -ETIMEDOUT;
	p.fd = weft_fd_number(h);
	if (p.fd < 0)
		return p.fd;
	r = poll(&p, 1, ms);
	if (r < 0)
		return errno == EINTR ? 0 : -errno;
	return r == 0 ? -ETIMEDOUT : 0;
}

/* recv(2) or send(2), non-blocking, on the connection: bytes, or -errno. */
static ssize_t io(int h, bool out, void *buf, size_t n)
{
	int fd = weft_fd_use(h);
	ssize_t r;

	if (fd < 0)
		return fd;
	r = out ? send(fd, buf, n, MSG_NOSIGNAL | MSG_DONTWAIT) : recv(fd, buf, n, MSG_DONTWAIT);
	if (r < 0)
		r = -errno;
	weft_fd_unuse(h);
	return r;
}

/*
 * Reads the request up to the blank line that ends its headers: its length,
 * -E2BIG when it does not fit, another -errno when the client went away or
 * the deadline passed.
 */
static ssize_t read_request(int h, uint64_t deadline)
{
	size_t len = 0;

	for (;;) {
		ssize_t r = io(h, false, pm.request + len, sizeof(pm.request) - 1 - len);

		if (r == -EAGAIN || r == -EINTR) {
			int w = await(h, POLLIN, deadline);

			if (w < 0)
				return w;
			continue;
		}
		if (r <= 0)
			return r < 0 ? r : -ECONNRESET;
		len += (size_t)r;
		pm.request[len] = '\0';
		if (strstr(pm.request, "\r\n\r\n") || strstr(pm.request, "\n\n"))
			return (ssize_t)len;
		if (len == sizeof(pm.request) - 1)
			return -E2BIG;
	}
}

static int send_all(int h, const char *p, size_t n, uint64_t deadline)
{
	while (n) {
		ssize_t r = io(h, true, (void *)p, n);

		if (r == -EAGAIN || r == -EINTR) {
			int w = await(h, POLLOUT, deadline);

			if (w < 0)
				return w;
			continue;
		}
		if (r < 0)
			return (int)r;
		p += r;
		n -= (size_t)r;
	}
	return 0;
}

/* The status of a request, and whether its answer has a body (not HEAD). */
static int classify(char *req, bool *want_body)
{
	char *method = req, *target, *version, *end = strpbrk(req, "\r\n");

	*end = '\0';
	target = strchr(method, ' ');
	if (!target)
		return 400;
	*target++ = '\0';
	version = strchr(target, ' ');
	if (!version || strncmp(version + 1, "HTTP/1.", 7) != 0)
		return 400;
	*version = '\0';
	target[strcspn(target, "?")] = '\0';
	*want_body = strcmp(method, "HEAD") != 0;
	if (*want_body && strcmp(method, "GET") != 0)
		return 405;
	return strcmp(target, "/metrics") == 0 ? 200 : 404;
}

static const char *reason(int status)
{
	switch (status) {
	case 200:
		return "OK";
	case 400:
		return "Bad Request";
	case 404:
		return "Not Found";
	case 405:
		return "Method Not Allowed";
	case 431:
		return "Request Header Fields Too Large";
	default:
		return "Internal Server Error";
	}
}

static void answer(int h, int status, bool want_body, const char *body, size_t n, uint64_t deadline)
{
	char head[256];
	int len;

	len = snprintf(head, sizeof(head),
		       "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n%s"
		       "Connection: close\r\n\r\n",
		       status, reason(status), status == 200 ? content_type : "text/plain", n,
		       status == 405 ? "Allow: GET, HEAD\r\n" : "");
	if (send_all(h, head, (size_t)len, deadline) == 0 && want_body)
		send_all(h, body, n, deadline);
}

/*
 * Closes after what the client sent and was not read (the rest of an
 * oversized request) is taken off the socket: closing with unread bytes
 * would reset the connection and could lose the answer on its way.
 */
static void finish(int h)
{
	int fd = weft_fd_use(h);

	if (fd >= 0) {
		shutdown(fd, SHUT_WR);
		for (int i = 0; i < 8 && recv(fd, pm.request, sizeof(pm.request), MSG_DONTWAIT) > 0;
		     i++)
			;
		weft_fd_unuse(h);
	}
	weft_fd_close(h);
}

void weft_prometheus_serve(size_t (*collect)(const struct weft_metric **out),
			   const struct weft_resource *res)
{
	uint64_t deadline;
	const struct weft_metric *metrics;
	ssize_t len;
	bool want_body = false;
	int h, status;

	if (pm.listener < 0)
		return;
	h = weft_fd_accept(pm.listener, WEFT_FD_PINNED);
	if (h < 0)
		return;
	deadline = weft_clock_after(weft_clock_now(),
				    (uint64_t)WEFT_PROMETHEUS_DEADLINE_MS * 1000000u);
	len = read_request(h, deadline);
	want_body = true;
	if (len == -E2BIG) {
		answer(h, 431, true, "request too large\n", 18, deadline);
	} else if (len > 0) {
		status = classify(pm.request, &want_body);
		if (status != 200) {
			const char *text = reason(status);

			answer(h, status, want_body, text, strlen(text), deadline);
		} else {
			size_t n = collect(&metrics);

			weft_json_reset(&pm.body);
			if (weft_prometheus_render(&pm.body, res, metrics, n) == 0)
				answer(h, 200, want_body, pm.body.buf, pm.body.len, deadline);
			else
				answer(h, 500, true, "out of memory\n", 14, deadline);
			if (pm.body.cap > KEEP_BUFFER) {
				weft_json_free(&pm.body);
				weft_json_init(&pm.body);
			}
		}
	}
	finish(h);
}
