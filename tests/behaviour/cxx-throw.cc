/*
 * A C++ program linked with -static-libgcc: its unwinder is its own copy of
 * libgcc's, and an exception thrown through frames of the program, of
 * libstdc++ and back must be caught. It aborts when a preloaded library puts
 * another unwinder's _Unwind_* functions ahead of libstdc++'s references.
 */
#include <cstdio>
#include <stdexcept>
#include <string>
#include <thread>

/*
 * Each frame owns a std::string, so the exception passes through landing
 * pads that call _Unwind_Resume: the program's own (static) copy, which must
 * find the exception in the state its own _Unwind_RaiseException left.
 */
static size_t depth(int n)
{
	std::string frame(32, static_cast<char>('a' + n));

	if (n == 0)
		throw std::runtime_error("thrown at depth 0");
	return depth(n - 1) + frame.size();
}

int main()
{
	int caught = 0;

	for (int i = 0; i < 3; i++) {
		try {
			depth(5 + i);
		} catch (const std::exception &e) {
			caught++;
		}
	}
	/* And on a second thread, where weft's trampoline is on the stack. */
	std::thread t([&caught] {
		try {
			std::stoi("not a number");
		} catch (const std::invalid_argument &) {
			caught++;
		}
	});
	t.join();
	std::printf("caught %d of 4\n", caught);
	return caught == 4 ? 0 : 1;
}
