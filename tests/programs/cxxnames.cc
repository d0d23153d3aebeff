// A C++ program whose functions have mangled names (tests/integration/test-names.py):
// two threads started from a static member function, app::Worker::run, take
// ten items from a mutex+condvar queue, waiting in app::Queue::pop; a negative
// item stops each. Then two std::threads, one running a lambda, one a
// function object (app::Ticker), and a std::async lambda each sleep a
// millisecond. Prints the sum the workers took (55).
#include <pthread.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <future>
#include <thread>

namespace app {

class Queue {
public:
	void push(int v)
	{
		pthread_mutex_lock(&m_);
		items_[(head_ + n_++) % 64] = v;
		pthread_cond_signal(&c_);
		pthread_mutex_unlock(&m_);
	}

	__attribute__((noinline)) int pop()
	{
		pthread_mutex_lock(&m_);
		while (n_ == 0)
			pthread_cond_wait(&c_, &m_);
		int v = items_[head_];
		head_ = (head_ + 1) % 64;
		n_--;
		pthread_mutex_unlock(&m_);
		return v;
	}

private:
	pthread_mutex_t m_ = PTHREAD_MUTEX_INITIALIZER;
	pthread_cond_t c_ = PTHREAD_COND_INITIALIZER;
	int items_[64] = {};
	int head_ = 0, n_ = 0; // items_[head_..head_+n_), first in first out
};

struct Worker {
	static void *run(void *arg);
};

void *Worker::run(void *arg)
{
	Queue *q = static_cast<Queue *>(arg);
	intptr_t sum = 0;

	for (;;) {
		int v = q->pop();
		if (v < 0)
			break;
		sum += v;
	}
	return reinterpret_cast<void *>(sum);
}

struct Ticker {
	void operator()() const { usleep(1000); }
};

} // namespace app

int main()
{
	app::Queue q;
	pthread_t t[2];
	intptr_t sum = 0;

	for (auto &th : t)
		if (pthread_create(&th, nullptr, app::Worker::run, &q) != 0)
			return 1;
	for (int v = 1; v <= 10; v++) {
		usleep(2000); // each item finds a worker waiting
		q.push(v);
	}
	q.push(-1);
	q.push(-1);
	for (auto &th : t) {
		void *r;
		pthread_join(th, &r);
		sum += reinterpret_cast<intptr_t>(r);
	}
	std::thread lambda([] { usleep(1000); });
	lambda.join();
	std::thread functor(app::Ticker{});
	functor.join();
	auto later = std::async(std::launch::async, [] {
		usleep(1000);
		return 3;
	});
	if (later.get() != 3)
		return 1;
	std::printf("%ld\n", static_cast<long>(sum));
	return 0;
}
