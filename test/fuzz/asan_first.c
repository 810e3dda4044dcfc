/*
 * asan_first.c (test/fuzz): preloaded, after libasan, into the stock
 * PostgreSQL server by the ASan builds of test/sanitize.sh and
 * test/fuzz/run.sh.
 *
 * An executable built with -fsanitize=address initializes ASan from its
 * .preinit_array, before any library's constructor.  The stock postgres
 * is not instrumented: with libasan only preloaded, its constructor runs
 * after those of the libraries postgres links (the preloaded objects are
 * initialized last), and libgnutls's constructor calls bindtextdomain(),
 * whose malloc() initializes ASan lazily while glibc holds _nl_state_lock:
 * every later bindtextdomain() (postgres's own, in main) then waits on that
 * lock forever.  This object is linked with -z initfirst, so the dynamic
 * linker runs its constructor before any other, and it initializes ASan
 * there, as an instrumented executable would.
 */
extern void __asan_init(void);

static void __attribute__((constructor))
asan_first(void)
{
	__asan_init();
}
