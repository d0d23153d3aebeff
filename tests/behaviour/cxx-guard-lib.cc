/*
 * A C++ library that a C program loads with dlopen (cxx-guard-main.c). Its
 * thread takes a std::mutex with std::lock_guard and then leaves by
 * pthread_exit or is cancelled while holding it: the guard's destructor must
 * run during the forced unwind and unlock the mutex. It does not when an
 * unwinder other than libgcc's interprets this library's frames.
 */
#include <pthread.h>
#include <unistd.h>

#include <mutex>

/* One mutex per way of leaving, so that one left locked cannot block the other. */
static std::mutex guarded_exit, guarded_cancel;
static pthread_mutex_t started_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t started_cond = PTHREAD_COND_INITIALIZER;
static bool started;

static void mark_started()
{
	pthread_mutex_lock(&started_lock);
	started = true;
	pthread_cond_signal(&started_cond);
	pthread_mutex_unlock(&started_lock);
}

static void *hold_then_exit(void *)
{
	std::lock_guard<std::mutex> hold(guarded_exit);
	pthread_exit(nullptr);
}

static void *hold_until_cancelled(void *)
{
	std::lock_guard<std::mutex> hold(guarded_cancel);
	mark_started();
	for (;;)
		pause(); /* a cancellation point */
}

extern "C" __attribute__((visibility("default"))) int cxx_guard_run(int cancel)
{
	std::mutex &guarded = cancel ? guarded_cancel : guarded_exit;
	pthread_t t;

	started = false;
	if (pthread_create(&t, nullptr, cancel ? hold_until_cancelled : hold_then_exit, nullptr))
		return -1;
	if (cancel) {
		pthread_mutex_lock(&started_lock);
		while (!started)
			pthread_cond_wait(&started_cond, &started_lock);
		pthread_mutex_unlock(&started_lock);
		pthread_cancel(t);
	}
	pthread_join(t, nullptr);
	/* 1 when the guard's destructor released the mutex. */
	if (!guarded.try_lock())
		return 0;
	guarded.unlock();
	return 1;
}
