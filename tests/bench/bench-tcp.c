/*
 * Loopback TCP request/response, natively and under weft, in one run
 * (issue 10's benchmark; the driver is bench-driver.h).
 *
 *   rr1     a client thread sends a 1-byte request, a server thread reads it
 *           and sends a 1-byte response (ns per round trip: two sends, two
 *           receives that block, two wake-ups);
 *   rr4k    the same with 4 KiB each way, each side reading until it has
 *           the whole message.
 *
 * Both ends are connections weft follows (connect and accept spans, every
 * transfer counted and timed). Every message is checked (its first byte is
 * its number), so a hook that lost or reordered data fails the run. TCP_NODELAY
 * as request/response servers set it. Usage:
 *
 *   bench-tcp [path/to/libweft.so] [rr1|rr4k|all] [scale] [rounds]
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
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
};

int main(int argc, char **argv)
{
	return bench_main(argc, argv, "bench-tcp", workloads,
			  sizeof(workloads) / sizeof(workloads[0]));
}
