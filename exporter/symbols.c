/*
 * Function names for code addresses (symbols.h), on the exporter thread.
 *
 * The module an address is in comes from the loader without a lock
 * (_dl_find_object: its file, load bias and mapped range; the loader's
 * list lock would be inherited held by a child the program forks meanwhile,
 * which then hangs in its own dlopen) and is kept in a table; the names
 * from the module's file, mapped read-only: its .dynsym (the exported names,
 * dladdr's), then its .symtab when it has one (static functions,
 * executables linked without -rdynamic). The file is used only if its
 * .dynsym is, byte for byte, the one loaded (read with process_vm_readv,
 * which fails rather than faults on memory a dlclose() unmapped meanwhile;
 * where that call is refused, a seccomp filter say, the file is trusted):
 * a library upgraded on disk since it was loaded, the vDSO, a deleted file
 * are asked dladdr instead. Of a table's functions that contain the
 * address, the one that begins nearest below it; of several there, the
 * first in the table (dladdr's choice: an interceptor's `abort` before its
 * `__interceptor_abort`).
 *
 * A table's first INDEX_AFTER lookups scan it; then an index of its
 * functions sorted by address is built (a radix sort, a few passes over the
 * table) and searched. dladdr, which this replaces, scans the whole dynamic
 * symbol table at every call: in node (75,000 exported symbols) a lookup
 * cost 0.1-0.4 ms, and a few hundred call sites and stack frames took the
 * exporter thread 0.2 s of CPU in a 0.3 s program.
 *
 * A C++ or Rust name is kept readable (exporter/demangle.h: `Queue::pop`,
 * not `_ZN5Queue3popEv`). Names are cached per address for the life of
 * the process, as are the modules: a library unloaded and another loaded
 * at its addresses keeps the first one's names, unless it comes from
 * another file.
 */
#include <dlfcn.h>
#include <elf.h>
#include <errno.h>
#include <link.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include "agent/alloc.h"
#include "agent/fd.h"
#include "agent/hashmap.h"
#include "agent/large.h"
#include "exporter/demangle.h"
#include "exporter/resource.h"
#include "exporter/symbols.h"

enum { MAX_MODULES = 64, INDEX_AFTER = 1 };

/* The cache's key for a start routine's name (weft_symbols_routine): no address has bit 63. */
#define ROUTINE_KEY (1ull << 63)

/* A function in a table's index: where it begins (a link-time address), its size, its name. */
struct fsym {
	uint64_t value;
	uint32_t size; /* clamped: no function is 4 GiB long */
	uint32_t name; /* in the string table */
};

/* One of a module's symbol tables, and its index once built. */
struct table {
	const ElfW(Sym) * syms;
	size_t n_syms;
	const char *strtab;
	size_t strtab_size;
	struct fsym *index; /* by value, then table order; NULL until built */
	size_t n_index;
	unsigned lookups;
	bool index_failed; /* out of memory: the table is scanned */
};

/* A loaded module and its symbol tables, mapped whole. */
struct module {
	char path[256];
	uintptr_t bias; /* the load bias: symbol values are relative to it */
	uintptr_t lo;   /* the lowest address it is mapped at */
	const unsigned char *map;
	size_t size;
	struct table dyn; /* .dynsym: the exported names, asked first */
	struct table sym; /* .symtab, when the file has one: every function */
	bool failed;      /* no symbol table that is the loaded one's: dladdr answers */
	bool done;        /* module_at returned: the entry is whole (see weft_symbols_reset) */
};

/* The cache's entries, by address (the first 8 bytes, for weft_hashmap_eq_u64). */
struct cache_entry {
	uint64_t addr;
	const char *name; /* NULL: looked up, nothing found */
};

static struct module modules[MAX_MODULES] WEFT_LARGE;
static size_t n_modules;
static struct weft_hashmap cache =
	WEFT_HASHMAP_INIT(sizeof(struct cache_entry), weft_hashmap_eq_u64);

/*
 * Whether n bytes at addr (this process's memory) are those at file: read
 * through the kernel, so that memory unmapped meanwhile fails the read
 * instead of faulting. True too when the kernel will not read it at all (a
 * seccomp filter, a kernel without the call): then the file is trusted, as
 * it was before there was this check.
 */
static bool same_as_loaded(uintptr_t addr, const void *file, size_t n)
{
	char buf[16384];
	/* This thread's id: the process's would fail once its main thread has exited. */
	pid_t pid = gettid();
	int saved = errno;

	for (size_t done = 0; done < n;) {
		size_t k = n - done < sizeof(buf) ? n - done : sizeof(buf);
		struct iovec local = { buf, k }, remote = { (void *)(addr + done), k };
		ssize_t got = process_vm_readv(pid, &local, 1, &remote, 1, 0);

		if (got < 0 && (errno == ENOSYS || errno == EPERM || errno == EACCES)) {
			errno = saved;
			return true;
		}
		if (got != (ssize_t)k || memcmp(buf, (const char *)file + done, k) != 0) {
			errno = saved;
			return false;
		}
		done += k;
	}
	errno = saved;
	return true;
}

/*
 * Maps the module's file and reads its .dynsym and .symtab (either may be
 * missing), if its .dynsym is the loaded one's.
 */
static void module_load(struct module *m)
{
	const ElfW(Ehdr) * eh;
	const ElfW(Shdr) * sh;
	uintptr_t dyn_addr = 0;

	m->failed = true;
	/* Never through a descriptor the program could see: it may be opening a file. */
	m->map = weft_fd_map(m->path, &m->size);
	if (!m->map || m->size < sizeof(ElfW(Ehdr)))
		return;
	eh = (const ElfW(Ehdr) *)m->map;
	if (memcmp(eh->e_ident, ELFMAG, SELFMAG) != 0 || eh->e_shoff == 0 ||
	    eh->e_shoff + (size_t)eh->e_shnum * sizeof(ElfW(Shdr)) > m->size)
		return;
	sh = (const ElfW(Shdr) *)(m->map + eh->e_shoff);
	for (size_t i = 0; i < eh->e_shnum; i++) {
		const ElfW(Shdr) * str;
		struct table *t = sh[i].sh_type == SHT_DYNSYM   ? &m->dyn
				  : sh[i].sh_type == SHT_SYMTAB ? &m->sym
								: NULL;

		if (!t || sh[i].sh_link >= eh->e_shnum)
			continue;
		str = &sh[sh[i].sh_link];
		if (sh[i].sh_offset + sh[i].sh_size > m->size ||
		    str->sh_offset + str->sh_size > m->size)
			continue;
		t->syms = (const ElfW(Sym) *)(m->map + sh[i].sh_offset);
		t->n_syms = sh[i].sh_size / sizeof(ElfW(Sym));
		t->strtab = (const char *)(m->map + str->sh_offset);
		t->strtab_size = str->sh_size;
		if (t == &m->dyn)
			dyn_addr = sh[i].sh_addr;
	}
	/* Only the file the loaded code came from: its .dynsym as in memory. */
	m->failed = !m->dyn.syms || !same_as_loaded(m->bias + dyn_addr, m->dyn.syms,
						    m->dyn.n_syms * sizeof(ElfW(Sym)));
	if (m->failed)
		memset(&m->sym, 0, sizeof(m->sym));
}

/* /proc/self/exe, because the loader names the main program by argv[0] or not at all. */
static const char *exe_path(void)
{
	static char path[256];
	const char *built = weft_resource_exe_path();
	ssize_t n;

	/* The resource has read it already, in any process that exports. */
	if (built[0])
		return built;
	if (path[0])
		return path;
	n = readlink("/proc/self/exe", path, sizeof(path) - 1);
	path[n > 0 ? n : 0] = '\0';
	return path;
}

/*
 * The module addr is in, as the loader has it (no lock taken): from the
 * table when it holds that file at that load bias, else added; NULL: none
 * (JIT code, the heap).
 */
static struct module *module_at(uintptr_t addr)
{
	struct dl_find_object f;
	const char *path;
	struct module *m;

	if (_dl_find_object((void *)addr, &f) != 0)
		return NULL;
	path = f.dlfo_link_map->l_name && f.dlfo_link_map->l_name[0] ? f.dlfo_link_map->l_name
								     : exe_path();
	for (size_t i = 0; i < n_modules; i++)
		if (modules[i].done && modules[i].bias == f.dlfo_link_map->l_addr &&
		    modules[i].lo == (uintptr_t)f.dlfo_map_start &&
		    strcmp(modules[i].path, path) == 0)
			return &modules[i];
	if (n_modules == MAX_MODULES || strlen(path) >= sizeof(m->path))
		return NULL;
	m = &modules[n_modules++];
	strcpy(m->path, path);
	m->bias = f.dlfo_link_map->l_addr;
	m->lo = (uintptr_t)f.dlfo_map_start;
	module_load(m);
	/* Last, as a fork would see it: a forked child drops an entry not done. */
	atomic_signal_fence(memory_order_seq_cst);
	m->done = true;
	return m;
}

/* A defined function's symbol, with a name: the ones an address is named after. */
static bool is_function(const struct table *t, const ElfW(Sym) * s)
{
	return ELF64_ST_TYPE(s->st_info) == STT_FUNC && s->st_shndx != SHN_UNDEF &&
	       s->st_name < t->strtab_size && s->st_name <= UINT32_MAX;
}

static bool contains(uint64_t value, uint64_t size, uint64_t offset)
{
	return offset >= value && offset - value < (size ? size : 1);
}

/* The whole table, for its first lookups. */
static const char *scan(const struct table *t, uint64_t offset)
{
	const ElfW(Sym) *best = NULL;

	for (size_t i = 0; i < t->n_syms; i++) {
		const ElfW(Sym) *s = &t->syms[i];

		if (is_function(t, s) && contains(s->st_value, s->st_size, offset) &&
		    (!best || s->st_value > best->st_value))
			best = s;
	}
	return best ? t->strtab + best->st_name : NULL;
}

/* Sorts a[0..n) by value, stably (least significant digit first), with tmp[n] beside it. */
static void radix_sort(struct fsym *a, struct fsym *tmp, size_t n)
{
	enum { BITS = 11, DIGITS = 1 << BITS };
	uint64_t top = 0;
	size_t count[DIGITS];

	for (size_t i = 0; i < n; i++)
		top |= a[i].value;
	for (unsigned shift = 0; shift < 64 && (top >> shift); shift += BITS) {
		size_t sum = 0;

		memset(count, 0, sizeof(count));
		for (size_t i = 0; i < n; i++)
			count[(a[i].value >> shift) & (DIGITS - 1)]++;
		for (size_t d = 0; d < DIGITS; d++) {
			size_t c = count[d];

			count[d] = sum;
			sum += c;
		}
		for (size_t i = 0; i < n; i++)
			tmp[count[(a[i].value >> shift) & (DIGITS - 1)]++] = a[i];
		memcpy(a, tmp, n * sizeof(*a));
	}
}

/* The table's functions sorted by value, those at one value in table order (a stable sort). */
static void index_build(struct table *t)
{
	size_t n = 0, k = 0;
	struct fsym *a, *tmp;

	for (size_t i = 0; i < t->n_syms; i++)
		n += is_function(t, &t->syms[i]);
	a = n ? weft_alloc(n * sizeof(*a)) : NULL;
	tmp = n ? weft_alloc(n * sizeof(*tmp)) : NULL;
	if (!a || !tmp) {
		weft_free(a);
		weft_free(tmp);
		t->index_failed = n != 0;
		return;
	}
	for (size_t i = 0; i < t->n_syms; i++) {
		const ElfW(Sym) *s = &t->syms[i];

		if (is_function(t, s))
			a[k++] = (struct fsym){
				.value = s->st_value,
				.size = s->st_size > UINT32_MAX ? UINT32_MAX : (uint32_t)s->st_size,
				.name = (uint32_t)s->st_name,
			};
	}
	radix_sort(a, tmp, n);
	weft_free(tmp);
	t->n_index = n;
	/* Whole before it is seen (a fork copies what this thread has written so far). */
	atomic_signal_fence(memory_order_seq_cst);
	t->index = a;
}

/*
 * The index's answer, the scan's: the last function beginning at or below
 * offset that contains it, the first in the table of those at its value.
 * How far back it looks for one that contains it, past smaller ones
 * beginning nearer (labels inside a function), is bounded.
 */
static const char *index_lookup(const struct table *t, uint64_t offset)
{
	enum { LOOK_BACK = 256 };
	size_t lo = 0, hi = t->n_index, seen = 0;
	const struct fsym *a = t->index;

	/* hi: the first beginning above offset. */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (a[mid].value <= offset)
			lo = mid + 1;
		else
			hi = mid;
	}
	while (hi > 0 && seen++ < LOOK_BACK) {
		size_t first = hi - 1;

		/* The run of functions at this value, first to last. */
		while (first > 0 && a[first - 1].value == a[hi - 1].value)
			first--;
		for (size_t i = first; i < hi; i++)
			if (contains(a[i].value, a[i].size, offset))
				return t->strtab + a[i].name;
		hi = first;
	}
	return NULL;
}

/* The function of the table that contains offset: scanned at first, then from the index. */
static const char *table_lookup(struct table *t, uint64_t offset)
{
	if (!t->n_syms)
		return NULL;
	if (!t->index && !t->index_failed && ++t->lookups > INDEX_AFTER)
		index_build(t);
	return t->index ? index_lookup(t, offset) : scan(t, offset);
}

/* The exported name dladdr finds: for a module weft could not read. */
static const char *exported(uintptr_t addr)
{
	Dl_info info;

	if (dladdr((void *)addr, &info) && info.dli_sname && info.dli_saddr)
		return info.dli_sname;
	return NULL;
}

static const char *lookup(uintptr_t addr)
{
	struct module *m = module_at(addr);
	const char *name;

	if (!m || m->failed)
		return exported(addr);
	/* An exported name first, as dladdr gives it; the others from .symtab. */
	name = table_lookup(&m->dyn, addr - m->bias);
	return name ? name : table_lookup(&m->sym, addr - m->bias);
}

/* A copy of a symbol's name to keep: a C++ or Rust name readable (demangle.h). */
static const char *intern(const char *name)
{
	char readable[1024];

	return weft_strdup(weft_demangle(name, readable, sizeof(readable)) ? readable : name);
}

void weft_symbols_init(void)
{
	/* Nothing to read when the resource has it (and nothing of ours to touch). */
	if (!weft_resource_exe_path()[0])
		exe_path();
}

const char *weft_symbols_name(uintptr_t addr)
{
	uint64_t key = addr, h = weft_hashmap_hash_u64(key);
	struct cache_entry *e;
	const char *name;
	void *p;

	if (!addr)
		return NULL;
	e = weft_hashmap_find(&cache, h, &key);
	if (e)
		return e->name;
	name = lookup(addr);
	/* Short of memory, the answer is given uncached. */
	if (weft_hashmap_put(&cache, h, &key, &p) < 0)
		return name;
	/* The name points into a mapping or the loader's tables; intern a copy. */
	e = p;
	e->addr = key;
	e->name = name ? intern(name) : NULL;
	return e->name;
}

/*
 * The callable in the name of a std::thread state's _M_run: the first type of
 * its std::tuple, up to the first comma or the closing bracket at its level;
 * and if that names an invoker in turn (std::async's state runs a member
 * function of a type that holds the program's callable), the first type of
 * that one's tuple.
 */
#define CXX_STATE_RUN "std::thread::_State_impl<std::thread::_Invoker<std::tuple<"
#define CXX_INVOKER   "std::thread::_Invoker<std::tuple<"

static const char *callable_of(const char *run)
{
	const char *s = run + strlen(CXX_STATE_RUN), *e, *inner;
	int depth = 0;
	char buf[256];
	size_t n;

	while ((inner = strstr(s, CXX_INVOKER)) != NULL)
		s = inner + strlen(CXX_INVOKER);
	for (e = s; *e; e++) {
		if (*e == '<' || *e == '(' || *e == '{' || *e == '[')
			depth++;
		else if ((*e == '>' || *e == ')' || *e == '}' || *e == ']') && depth-- == 0)
			break;
		else if (*e == ',' && depth == 0)
			break;
	}
	while (e > s && e[-1] == ' ')
		e--;
	n = (size_t)(e - s);
	if (!*e || n == 0 || n >= sizeof(buf))
		return NULL;
	memcpy(buf, s, n);
	buf[n] = '\0';
	return weft_strdup(buf);
}

const char *weft_symbols_routine(uintptr_t addr)
{
	uint64_t key = (uint64_t)addr | ROUTINE_KEY, h = weft_hashmap_hash_u64(key);
	const char *name = weft_symbols_name(addr), *callable;
	struct cache_entry *e;
	void *p;

	if (!name || strncmp(name, CXX_STATE_RUN, strlen(CXX_STATE_RUN)) != 0)
		return name;
	e = weft_hashmap_find(&cache, h, &key);
	if (e)
		return e->name;
	callable = callable_of(name);
	if (!callable)
		return name;
	if (weft_hashmap_put(&cache, h, &key, &p) < 0)
		return callable;
	e = p;
	e->addr = key;
	e->name = callable;
	return e->name;
}

const char *weft_symbols_module(uintptr_t addr, uintptr_t *start)
{
	struct module *m = module_at(addr);

	if (!m)
		return NULL;
	*start = m->lo;
	return m->path;
}

void weft_symbols_reset(void)
{
	/*
	 * In a forked child: a module the parent's exporter was loading at the
	 * fork is half made (marked failed, or with no symbols yet), and every
	 * lookup in it would find nothing for good. Forget it (its mapping, if
	 * any, stays) so that the child's first lookup loads it again. An index
	 * being built is not there yet (published last): it is built again.
	 */
	if (n_modules && !modules[n_modules - 1].done) {
		n_modules--;
		memset(&modules[n_modules], 0, sizeof(modules[n_modules]));
	}
	weft_hashmap_init(&cache, sizeof(struct cache_entry), weft_hashmap_eq_u64);
}
