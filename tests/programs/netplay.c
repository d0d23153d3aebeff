/*
 * Sockets for tests/integration/test-sockets.py: connections whose every
 * byte the test can count.
 *
 *   stream FAMILY   (tcp4, tcp6, unix) a server thread accepts CLIENTS
 *                   connections one after another and echoes each until
 *                   end of file; CLIENTS threads named client<i> connect at
 *                   once, each writes 1000 * (i + 3) bytes in writes of at most
 *                   1000 (write), shuts down its sending side and reads the
 *                   echo back (read) to end of file;
 *   refused         a connect to a port nothing listens on: ECONNREFUSED;
 *   nonblock        a non-blocking connect, completed through poll and
 *                   getsockopt(SO_ERROR), then 100 bytes each way (send, recv);
 *   slow            the server waits 250 ms before it answers: the client's
 *                   recv blocks (a `wait socket.recv`, child of its `connect`);
 *   udp             a bound UDP server and a connected UDP client: 5
 *                   datagrams of 100 bytes each way (sendto / recvfrom on
 *                   the server, send / recv on the client), the last through
 *                   sendmsg / recvmsg.
 *
 * Every scenario runs in order in one process (`netplay all`), and prints
 * what the test compares: the ports it used and each client's bytes. The
 * printed lines are the same natively and under weft.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdbool.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

enum { CLIENTS = 3 };

static int family;
static struct sockaddr_storage server_addr;
static socklen_t server_len;

static void die(const char *what)
{
	fprintf(stderr, "netplay: %s: %s\n", what, strerror(errno));
	exit(2);
}

/* A listening (or, for udp, bound) socket on loopback, port 0; its address in server_addr. */
static int listener_once(int fam, int type)
{
	int fd = socket(fam, type, 0), one = 1;

	if (fd < 0)
		die("socket");
	memset(&server_addr, 0, sizeof(server_addr));
	if (fam == AF_UNIX) {
		struct sockaddr_un *un = (struct sockaddr_un *)&server_addr;

		un->sun_family = AF_UNIX;
		snprintf(un->sun_path, sizeof(un->sun_path), "/tmp/netplay-%d.sock", (int)getpid());
		unlink(un->sun_path);
		server_len = sizeof(*un);
	} else if (fam == AF_INET6) {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&server_addr;

		in6->sin6_family = AF_INET6;
		in6->sin6_addr = in6addr_loopback;
		server_len = sizeof(*in6);
	} else {
		struct sockaddr_in *in = (struct sockaddr_in *)&server_addr;

		in->sin_family = AF_INET;
		in->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		server_len = sizeof(*in);
	}
	if (fam != AF_UNIX)
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&server_addr, server_len) != 0)
		die("bind");
	if (type == SOCK_STREAM && listen(fd, 16) != 0)
		die("listen");
	server_len = sizeof(server_addr);
	if (getsockname(fd, (struct sockaddr *)&server_addr, &server_len) != 0)
		die("getsockname");
	return fd;
}

static int port_of(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET)
		return ntohs(((const struct sockaddr_in *)ss)->sin_port);
	if (ss->ss_family == AF_INET6)
		return ntohs(((const struct sockaddr_in6 *)ss)->sin6_port);
	return 0;
}

/*
 * listener_once, on a port no earlier scenario of this run used: the test
 * tells scenarios apart by their ports, and the kernel may hand a closed
 * listener's port out again. A port already used is held while another is
 * asked for, then given back.
 */
static int listener(int fam, int type)
{
	static int used[16], n_used;
	int held[8], n_held = 0, fd, port;

	for (;;) {
		bool again = false;

		fd = listener_once(fam, type);
		port = port_of(&server_addr);
		for (int i = 0; i < n_used; i++)
			again |= port != 0 && used[i] == port;
		if (!again || n_held == 8)
			break;
		held[n_held++] = fd;
	}
	while (n_held > 0)
		close(held[--n_held]);
	if (port != 0 && n_used < 16)
		used[n_used++] = port;
	return fd;
}

static void write_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);

		if (w < 0)
			die("write");
		p += w;
		n -= (size_t)w;
	}
}

static int connect_to_server(int type)
{
	int fd = socket(family, type, 0);

	if (fd < 0)
		die("socket");
	if (connect(fd, (struct sockaddr *)&server_addr, server_len) != 0)
		die("connect");
	return fd;
}

/* ------------------------------------------------------------ stream */

static void *echo_server(void *arg)
{
	int l = *(int *)arg;
	char buf[4096];

	pthread_setname_np(pthread_self(), "server");
	for (int i = 0; i < CLIENTS; i++) {
		int fd = accept(l, NULL, NULL);
		ssize_t n;

		if (fd < 0)
			die("accept");
		while ((n = recv(fd, buf, sizeof(buf), 0)) > 0)
			write_all(fd, buf, (size_t)n);
		if (n < 0)
			die("recv");
		close(fd);
	}
	return NULL;
}

static void *stream_client(void *arg)
{
	int i = (int)(long)arg, fd;
	size_t total = 1000 * (size_t)(i + 3), got = 0;
	char name[16], out[1000], in[4096];
	ssize_t n;

	snprintf(name, sizeof(name), "client%d", i);
	pthread_setname_np(pthread_self(), name);
	memset(out, 'a' + i, sizeof(out));
	fd = connect_to_server(SOCK_STREAM);
	for (size_t sent = 0; sent < total; sent += sizeof(out))
		write_all(fd, out, total - sent < sizeof(out) ? total - sent : sizeof(out));
	shutdown(fd, SHUT_WR);
	while ((n = read(fd, in, sizeof(in))) > 0)
		got += (size_t)n;
	if (n < 0)
		die("read");
	close(fd);
	printf("client %d sent %zu received %zu\n", i, total, got);
	return NULL;
}

static void stream(int fam, const char *name)
{
	pthread_t server, clients[CLIENTS];
	int l;

	family = fam;
	l = listener(fam, SOCK_STREAM);
	printf("stream %s port %d\n", name, port_of(&server_addr));
	pthread_create(&server, NULL, echo_server, &l);
	for (long i = 0; i < CLIENTS; i++)
		pthread_create(&clients[i], NULL, stream_client, (void *)i);
	for (int i = 0; i < CLIENTS; i++)
		pthread_join(clients[i], NULL);
	pthread_join(server, NULL);
	close(l);
	if (fam == AF_UNIX)
		unlink(((struct sockaddr_un *)&server_addr)->sun_path);
	fflush(stdout);
}

/* ------------------------------------------------------------ failures and variants */

static void refused(void)
{
	int l, fd, r;

	family = AF_INET;
	l = listener(AF_INET, SOCK_DGRAM); /* a port of ours, then free: nothing listens there */
	close(l);
	fd = socket(AF_INET, SOCK_STREAM, 0);
	errno = 0;
	r = connect(fd, (struct sockaddr *)&server_addr, server_len);
	printf("refused rc %d errno %s\n", r, strerrorname_np(errno));
	close(fd);
}

static void *one_echo(void *arg)
{
	int l = *(int *)arg, fd = accept(l, NULL, NULL);
	long delay_ms = *((int *)arg + 1);
	char buf[100];
	ssize_t n = fd < 0 ? -1 : recv(fd, buf, sizeof(buf), MSG_WAITALL);

	if (n != (ssize_t)sizeof(buf))
		die("one_echo recv");
	if (delay_ms) {
		struct timespec ts = { 0, delay_ms * 1000000L };

		nanosleep(&ts, NULL);
	}
	write_all(fd, buf, (size_t)n);
	close(fd);
	return NULL;
}

/* One 100-byte round trip through a connection made by `make`. */
static void round_trip(const char *what, int (*make)(void), int delay_ms)
{
	int args[2], fd;
	char buf[100];
	pthread_t server;
	ssize_t n;

	family = AF_INET;
	args[0] = listener(AF_INET, SOCK_STREAM);
	args[1] = delay_ms;
	pthread_create(&server, NULL, one_echo, args);
	fd = make();
	memset(buf, 'x', sizeof(buf));
	if (send(fd, buf, sizeof(buf), 0) != (ssize_t)sizeof(buf))
		die("send");
	n = recv(fd, buf, sizeof(buf), MSG_WAITALL);
	printf("%s port %d received %zd\n", what, port_of(&server_addr), n);
	close(fd);
	pthread_join(server, NULL);
	close(args[0]);
}

static int nonblocking_connect(void)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0), err = -1;
	socklen_t len = sizeof(err);
	struct pollfd p = { .fd = fd, .events = POLLOUT };

	if (connect(fd, (struct sockaddr *)&server_addr, server_len) != 0 && errno != EINPROGRESS)
		die("connect");
	if (poll(&p, 1, 5000) != 1 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0 ||
	    err != 0)
		die("non-blocking connect");
	fcntl(fd, F_SETFL, 0); /* blocking again for the round trip */
	return fd;
}

static int blocking_connect(void)
{
	return connect_to_server(SOCK_STREAM);
}

/* ------------------------------------------------------------ datagrams */

static void *udp_server(void *arg)
{
	int fd = *(int *)arg;
	char buf[100];

	for (int i = 0; i < 5; i++) {
		struct sockaddr_storage from;
		socklen_t len = sizeof(from);
		ssize_t n = recvfrom(fd, buf, sizeof(buf), 0, (struct sockaddr *)&from, &len);

		if (n < 0 || sendto(fd, buf, (size_t)n, 0, (struct sockaddr *)&from, len) != n)
			die("udp server");
	}
	return NULL;
}

static void udp(void)
{
	int s, c;
	pthread_t server;
	char buf[100];
	ssize_t got = 0;

	family = AF_INET;
	s = listener(AF_INET, SOCK_DGRAM);
	pthread_create(&server, NULL, udp_server, &s);
	c = connect_to_server(SOCK_DGRAM);
	memset(buf, 'u', sizeof(buf));
	for (int i = 0; i < 4; i++) {
		if (send(c, buf, sizeof(buf), 0) != (ssize_t)sizeof(buf))
			die("udp send");
		got += recv(c, buf, sizeof(buf), 0);
	}
	{
		struct iovec iov = { buf, sizeof(buf) };
		struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1 };

		if (sendmsg(c, &m, 0) != (ssize_t)sizeof(buf))
			die("udp sendmsg");
		got += recvmsg(c, &m, 0);
	}
	pthread_join(server, NULL);
	printf("udp port %d received %zd\n", port_of(&server_addr), got);
	close(c);
	close(s);
}

int main(int argc, char **argv)
{
	const char *what = argc > 1 ? argv[1] : "all";
	bool all = strcmp(what, "all") == 0;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (all || strcmp(what, "tcp4") == 0)
		stream(AF_INET, "tcp4");
	if (all || strcmp(what, "tcp6") == 0)
		stream(AF_INET6, "tcp6");
	if (all || strcmp(what, "unix") == 0)
		stream(AF_UNIX, "unix");
	if (all || strcmp(what, "refused") == 0)
		refused();
	if (all || strcmp(what, "nonblock") == 0)
		round_trip("nonblock", nonblocking_connect, 0);
	if (all || strcmp(what, "slow") == 0)
		round_trip("slow", blocking_connect, 250);
	if (all || strcmp(what, "udp") == 0)
		udp();
	printf("done\n");
	return 0;
}
