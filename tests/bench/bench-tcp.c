/*
 * Loopback TCP request/response, natively and under weft, in one run
 * (issue 10's benchmark; the driver is bench-driver.h).
 *
 *   rr1     a client thread sends a 1-byte request, a server thread reads it
 *           and sends a 1-byte response (ns per round trip: two sends, two
 *           receives that block, two wake-ups);
 *   rr4k    the same with 4 KiB each way, each side reading until it has
 *           the whole message;
 *   nb1     one thread, as an event-loop server's worker handles a request
 *           whose bytes are already there: the client sends 1 byte, the
 *           server's non-blocking socket reads it and sends 1 byte back,
 *           the client reads it, every call non-blocking (ns per round
 *           trip: four transfers that weft counts and does not time, no
 *           wake-up). What memcached's workers pay a request, without the
 *           scheduling that makes its own figures noisy
 *           (tests/bench/README.md).
 *
 * Both ends are connections weft follows (connect and accept spans, every
 * transfer counted; rr1's and rr4k's, on blocking sockets, timed too). Every
 * message is checked (its first byte is its number), so a hook that lost or
 * reordered data fails the run. TCP_NODELAY as request/response servers set
 * it. Usage:
 *
 *   bench-tcp [path/to/libweft.so] [rr1|rr4k|nb1|all] [scale] [rounds]
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "bench-driver.h"

#define BATCHES 5

struct conn {
	int client, server;
	size_t size;
	long n;
	int failed;
};

/* Exactly `size` bytes into buf from fd: 0, or -1 at end of file or on an error. */
static int recv_all(int fd, unsigned char *buf, size_t size)
{
	while (size) {
		ssize_t r = recv(fd, buf, size, 0);

		if (r <= 0) {
			if (r < 0 && errno == EINTR)
				continue;
			return -1;
		}
		buf += r;
		size -= (size_t)r;
	}
	return 0;
}

static int send_all(int fd, const unsigned char *buf, size_t size)
{
	while (size) {
		ssize_t r = send(fd, buf, size, 0);

		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		buf += r;
		size -= (size_t)r;
	}
	return 0;
}

static int conn_open(struct conn *c, size_t size, long n)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(a);
	int l = socket(AF_INET, SOCK_STREAM, 0), one = 1;

	memset(c, 0, sizeof(*c));
	c->size = size;
	c->n = n;
	if (l < 0 || bind(l, (struct sockaddr *)&a, sizeof(a)) != 0 || listen(l, 1) != 0 ||
	    getsockname(l, (struct sockaddr *)&a, &len) != 0)
		return -1;
	c->client = socket(AF_INET, SOCK_STREAM, 0);
	if (c->client < 0 || connect(c->client, (struct sockaddr *)&a, sizeof(a)) != 0)
		return -1;
	c->server = accept(l, NULL, NULL);
	close(l);
	if (c->server < 0)
		return -1;
	setsockopt(c->client, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	setsockopt(c->server, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return 0;
}

/* The server: reads request i, answers with i + 1 in its first byte. */
static void *serve(void *arg)
{
	struct conn *c = arg;
	unsigned char buf[4096];

	for (long i = 0; i < c->n; i++) {
		if (recv_all(c->server, buf, c->size) != 0 || buf[0] != (unsigned char)i) {
			c->failed = 1;
			break;
		}
		buf[0] = (unsigned char)(i + 1);
		if (send_all(c->server, buf, c->size) != 0) {
			c->failed = 1;
			break;
		}
	}
	return NULL;
}

static int client(struct conn *c)
{
	unsigned char buf[4096];

	memset(buf, 'q', sizeof(buf));
	for (long i = 0; i < c->n; i++) {
		buf[0] = (unsigned char)i;
		if (send_all(c->client, buf, c->size) != 0 ||
		    recv_all(c->client, buf, c->size) != 0 || buf[0] != (unsigned char)(i + 1))
			return 1;
	}
	return 0;
}

static int rr_batch(long n, size_t size)
{
	struct conn c;
	pthread_t t;
	int bad;

	if (conn_open(&c, size, n) != 0)
		return -1;
	bench_batch_start();
	if (pthread_create(&t, NULL, serve, &c) != 0)
		return -1;
	bad = client(&c);
	pthread_join(t, NULL);
	close(c.client);
	close(c.server);
	return bad || c.failed ? -1 : 0;
}

static int rr1_batch(long n)
{
	return rr_batch(n, 1);
}

static int rr4k_batch(long n)
{
	return rr_batch(n, 4096);
}

/*
 * nb1: the four transfers of a round trip on one thread, none of which
 * blocks (the server's socket is non-blocking, the client's calls say
 * MSG_DONTWAIT): what a transfer costs that weft does not time.
 */
static int nb1_batch(long n)
{
	struct conn c;
	unsigned char b = 0;
	int bad = 0;

	if (conn_open(&c, 1, n) != 0 ||
	    fcntl(c.server, F_SETFL, fcntl(c.server, F_GETFL) | O_NONBLOCK) != 0)
		return -1;
	bench_batch_start();
	for (long i = 0; i < n && !bad; i++) {
		unsigned char req = (unsigned char)i;
		struct iovec iov = { &b, 1 };
		struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1 };
		ssize_t r;

		if (send(c.client, &req, 1, MSG_DONTWAIT) != 1)
			bad = 1;
		/* The byte is on its way through loopback: a read may find it not there yet. */
		while (!bad && (r = read(c.server, &b, 1)) != 1)
			bad = r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR);
		b = (unsigned char)(b + 1);
		if (!bad && (b != (unsigned char)(i + 1) || sendmsg(c.server, &m, 0) != 1))
			bad = 1;
		while (!bad && (r = recv(c.client, &b, 1, MSG_DONTWAIT)) != 1)
			bad = r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR);
		if (!bad && b != (unsigned char)(i + 1))
			bad = 1;
	}
	close(c.client);
	close(c.server);
	return bad ? -1 : 0;
}

static int nb1(long n, struct bench_result *r)
{
	return bench_best_of(nb1_batch, n, BATCHES, r);
}

static int rr1(long n, struct bench_result *r)
{
	return bench_best_of(rr1_batch, n, BATCHES, r);
}

static int rr4k(long n, struct bench_result *r)
{
	return bench_best_of(rr4k_batch, n, BATCHES, r);
}

static const struct bench_workload workloads[] = {
	{ "rr1", "loopback TCP request/response, 1 byte each way, per round trip", rr1, 20000,
	  1.05 },
	{ "rr4k", "loopback TCP request/response, 4 KiB each way, per round trip", rr4k, 20000,
	  1.05 },
	{ "nb1", "loopback TCP, one thread, 4 transfers that never block, per round trip", nb1,
	  50000, 1.05 },
};

int main(int argc, char **argv)
{
	return bench_main(argc, argv, "bench-tcp", workloads,
			  sizeof(workloads) / sizeof(workloads[0]));
}
