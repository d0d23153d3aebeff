/*
 * early-main: linked against libearly.so, whose constructor created, named
 * and joined a thread before main (and, under weft, before weft's own
 * constructor). Prints what it saw, then uses threads normally.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <pthread.h>
#include <stdio.h>

#include "early.h"

static void *worker(void *arg)
{
	pthread_setname_np(pthread_self(), "main-worker");
	return arg;
}

int main(void)
{
	const struct early_result *r = early_result();
	pthread_t t;
	void *ret = NULL;
	int rc;

	printf("constructor ran: %d\n", r->ran);
	printf("constructor: create=%d setname=%d join=%d value ok=%d errno kept=%d\n",
	       r->create_rc, r->setname_rc, r->join_rc, r->value_ok, r->errno_kept);
	printf("constructor thread saw its name: %s\n", r->name_seen);
	rc = pthread_create(&t, NULL, worker, (void *)7);
	printf("main: create=%d", rc);
	rc = pthread_join(t, &ret);
	printf(" join=%d value ok=%d\n", rc, ret == (void *)7);
	return 0;
}
