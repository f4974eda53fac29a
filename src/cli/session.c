#include "session.h"

#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "exitcode.h"
#include "debug_cache.h"
#include "elf_cache.h"
#include "gilshare.h"
#include "log.h"
#include "target.h"
#include "text.h"

#include "banned.h"

#define PROGRESS_INTERVAL_NS (250ull * 1000 * 1000)
/* hotspy's nice value while it samples, unless --nice says otherwise. */
#define SESSION_NICE (-10)

struct session {
	const struct options *o;
	struct session_setup setup;
	struct elf_cache *cache;       /* shared by the sampler and the symbolizer */
	struct sampler *sampler;       /* NULL once detached */
	struct symbolizer *sym;
	struct pycodes *pycodes;       /* CPython code objects, for both */
	struct debug_cache *debug_cache;   /* NULL when off or unavailable */
	const struct session_hooks *hooks;   /* during session_run */
	uint64_t start_ns, end_ns;
	int err;                       /* the error of SESSION_FAILED */
	bool sampler_failed;
	bool show_progress;
	/* Kept from the sampler when it is closed. */
	pid_t pid;
	int exit_status;               /* wait(2) format, -1 unknown */
	int signal;                    /* of SAMPLER_SIGNALLED, 0 if none */
	bool program_done;             /* session_end_program ran: */
	struct session_program_end program;   /* what it found */
	struct gilshare *gil;          /* each thread's GIL share; NULL unless
	                                * the sampler tells the GIL state */
	uint64_t gil_dropped;          /* --gil: samples left out */
	pid_t pids[OPTIONS_PIDS_MAX];  /* a -p list, each as its process */
};

/*
 * Where inflated copies of compressed debug files are kept (debug_cache.h):
 * $HOTSPY_DEBUG_CACHE when set ("off" or empty: nowhere), else
 * $XDG_CACHE_HOME/hotspy/debug, else ~/.cache/hotspy/debug (the XDG base
 * directory rules). NULL when off, when no absolute place is known, or
 * when that home exists and is not the user's own: under sudo with the caller's
 * $HOME kept, root would otherwise make a directory there that the caller
 * could not use.
 */
static struct debug_cache *debug_cache_of(const struct options *o)
{
	const char *env = getenv("HOTSPY_DEBUG_CACHE"), *base;
	struct stat st;
	char dir[4096];
	int w;

	if (o->no_debug_cache)
		return NULL;
	if (env)
		return strcmp(env, "off") == 0 ? NULL : debug_cache_new(env, DEBUG_CACHE_MAX_BYTES);
	base = getenv("XDG_CACHE_HOME");
	if (base && base[0] == '/')
		w = snprintf(dir, sizeof(dir), "%s/hotspy/debug", base);
	else if ((base = getenv("HOME")) && base[0] == '/')
		w = snprintf(dir, sizeof(dir), "%s/.cache/hotspy/debug", base);
	else
		return NULL;
	if (w < 0 || (size_t)w >= sizeof(dir))
		return NULL;
	/* A home yet to be made (XDG_CACHE_HOME) is made by debug_cache. */
	if (stat(base, &st) == 0 ? st.st_uid != geteuid() : errno != ENOENT)
		return NULL;
	return debug_cache_new(dir, DEBUG_CACHE_MAX_BYTES);
}

/*
 * hotspy's own priority while it samples. A sampler short of CPU stops
 * threads late and, worse, can lose the CPU while it holds one: with the
 * target's threads filling every CPU at hotspy's priority, it waits its turn
 * behind each of them (200 busy threads on 2 cores: ticks 600 ms apart, a
 * thread held 66 ms at the 90th percentile, `-d 3` ending after 12 s). At
 * nice -10 it gets a CPU when a tick is due; it uses little of one (a few
 * per cent at 100 Hz), and needs it from its start on (raised only after
 * the attach, a -d 3 run on 200 busy threads took 17.7 s; from the start,
 * 6.1 s). Raised only from the default 0 (a user who
 * niced hotspy meant it) or as --nice says. A program hotspy starts runs at
 * the caller's value (target_spawn_set_nice).
 */
static void session_set_priority(const struct options *o)
{
	int cur, want;

	errno = 0;
	cur = getpriority(PRIO_PROCESS, 0);
	if (cur == -1 && errno)
		return;
	want = o->nice_set ? o->nice : cur == 0 ? SESSION_NICE : cur;
	if (want == cur)
		return;
	if (setpriority(PRIO_PROCESS, 0, want) == 0) {
		target_spawn_set_nice(cur);
		log_debug("hotspy's nice value: %d (was %d)", want, cur);
	} else if (o->nice_set) {
		log_warn("cannot set hotspy's nice value to %d: %s (a higher priority "
			 "takes root or CAP_SYS_NICE); sampling at %d", want, strerror(errno),
			 cur);
	} else {
		log_debug("hotspy's nice value stays %d: %s", cur, strerror(errno));
	}
}

int session_new(const struct options *o, struct session **out)
{
	struct session *ss;
	sigset_t old_mask;
	int err;

	*out = NULL;
	/* The mask is never restored: a pending SIGINT would then kill
	 * hotspy before it writes what it recorded. */
	if (sampler_block_signals(&old_mask) < 0)
		return log_error(-errno, "cannot block signals: %s", strerror(errno));
	session_set_priority(o);
	ss = calloc(1, sizeof(*ss));
	if (!ss)
		return log_error(-ENOMEM, "out of memory");
	ss->o = o;
	ss->exit_status = -1;
	ss->cache = elf_cache_new();
	ss->sym = ss->cache ? symbolizer_new(ss->cache) : NULL;
	ss->pycodes = pycodes_new();
	if (!ss->sym || !ss->pycodes) {
		err = log_error(-ENOMEM, "out of memory");
		goto fail;
	}
	symbolizer_set_demangle(ss->sym, !o->no_demangle);
	symbolizer_set_full_names(ss->sym, o->full_names);
	symbolizer_set_full_filenames(ss->sym, o->full_filenames);
	symbolizer_set_pycodes(ss->sym, ss->pycodes);
	for (size_t i = 0; i < o->ndebug_dirs; i++)
		symbolizer_add_debug_dir(ss->sym, o->debug_dirs[i]);
	/* Without a cache (off, or no memory) names are the same, only
	 * slower: nothing to report. */
	ss->debug_cache = debug_cache_of(o);
	symbolizer_set_debug_cache(ss->sym, ss->debug_cache);
	*out = ss;
	return 0;

fail:
	session_free(ss);
	return err;
}

/*
 * -p of a thread that is not its process's main one means its process (as
 * ps and perf -p do); -t TID, that thread of its process. The setup's pid
 * becomes the process, said in a message. 0 or -errno (reported).
 */
static int resolve_target(const struct options *o, struct sampler_config *cfg)
{
	char comm[TARGET_COMM_MAX] = "?", name[TARGET_COMM_MAX + 8];
	pid_t asked = o->tid ? o->tid : cfg->pid, tgid;

	if (!asked || cfg->argv)
		return 0;
	tgid = target_thread_group(asked);
	if (tgid == -ESRCH || tgid == -ENOENT)
		return o->tid ? log_error(-ESRCH, "no thread %d (check the TID with ls "
					  "/proc/*/task)", (int)asked) : 0;  /* the sampler says */
	if (tgid < 0)
		return 0;
	target_comm(tgid, comm, sizeof(comm));
	name[0] = '\0';
	text_append_safe(name, sizeof(name), 0, comm);
	if (o->tid) {
		if (o->pid && o->pid != tgid)
			return log_error(-EINVAL, "thread %d is not one of process %d's but of "
					 "process %d (%s)", (int)o->tid, (int)o->pid, (int)tgid, name);
		cfg->pid = tgid;
		cfg->tid = o->tid;
		if (!o->quiet)
			log_info("sampling thread %d of process %d (%s) alone", (int)o->tid,
				 (int)tgid, name);
	} else if (tgid != asked) {
		cfg->pid = tgid;
		if (!o->quiet)
			log_info("%d is a thread of process %d (%s): profiling the whole process "
				 "(-t %d profiles that thread alone)", (int)asked, (int)tgid, name,
				 (int)asked);
	}
	return 0;
}

/*
 * A -p list (the whole machine narrowed): each id as its process (a
 * thread's id means its process, as for one -p), into @pids, which the
 * config then lists. An id that names no process is an error: nothing
 * would ever be sampled. 0 or -errno (reported).
 */
static int resolve_list(const struct options *o, struct sampler_config *cfg, pid_t *pids)
{
	for (size_t i = 0; i < cfg->npids; i++) {
		pid_t tgid = target_thread_group(o->pids[i]);

		if (tgid == -ESRCH || tgid == -ENOENT)
			return log_error(-ESRCH, "no process %d (check the PID with ps)",
					 (int)o->pids[i]);
		pids[i] = tgid > 0 ? tgid : o->pids[i];
	}
	cfg->pids = pids;
	return 0;
}

/* --gil on a process that runs no Python would keep nothing: said before
 * attaching (a command is known only once it runs: the summary says). */
static int check_gil_target(const struct options *o, const struct sampler_config *cfg)
{
	char comm[TARGET_COMM_MAX] = "?", name[TARGET_COMM_MAX + 8] = "";

	if (!o->gil || cfg->argv || cfg->pid <= 0 || kill(cfg->pid, 0) < 0 ||
	    sampler_target_is_python(cfg))
		return 0;
	target_comm(cfg->pid, comm, sizeof(comm));
	text_append_safe(name, sizeof(name), 0, comm);
	return log_error(-EINVAL, "--gil keeps the samples of threads holding Python's GIL, "
			 "and process %d (%s) runs no Python (perf's -g is not needed here: "
			 "call stacks are always recorded)", (int)cfg->pid, name);
}

int session_attach(struct session *ss, const struct session_setup *setup)
{
	const struct options *o = ss->o;
	int err;

	if (setup) {
		ss->setup = *setup;
	} else {
		ss->setup = (struct session_setup){
			.kind = o->sampler,
			.sampler = config_sampler(o, NULL),
			.duration = o->duration,
			.progress = true,
		};
	}
	ss->show_progress = ss->setup.progress && !o->quiet && !o->hide_progress &&
			    isatty(STDERR_FILENO);
	if (o->nonblocking && !o->quiet)
		log_info("--nonblocking: hotspy never pauses the whole process; it holds "
			 "one thread at a time, for the copy of its stack and Python frames "
			 "(tens of microseconds), so that no stack is torn");
	err = ss->setup.sampler.all ? resolve_list(o, &ss->setup.sampler, ss->pids) :
				      resolve_target(o, &ss->setup.sampler);
	if (err < 0)
		return err;
	ss->setup.sampler.cache = ss->cache;
	ss->setup.sampler.pycodes = ss->pycodes;
	err = check_gil_target(o, &ss->setup.sampler);
	if (err < 0)
		return err;
	if (ss->setup.sampler.gil && !ss->gil && !(ss->gil = gilshare_new()))
		return log_error(-ENOMEM, "out of memory");
	ss->sampler = sampler_open(ss->setup.kind, &ss->setup.sampler);
	if (!ss->sampler)
		return errno ? -errno : -EIO;   /* sampler_open has said what and why */
	return 0;
}

void session_describe(const struct session *ss)
{
	const struct sampler *s = ss->sampler;
	char name[TARGET_COMM_MAX];

	if (!ss->o->verbose || !s)
		return;
	if (ss->setup.sampler.all) {
		log_info("sampling %s with the %s sampler (%s) at %u Hz, on-CPU time",
			 ss->setup.sampler.npids || ss->setup.sampler.ncomms ?
			 "the processes -p and --comm name" : "every process",
			 sampler_name(s), sampler_reason(s), ss->setup.sampler.rate);
		return;
	}
	name[0] = '\0';
	text_append_safe(name, sizeof(name), 0, sampler_comm(s));
	log_info("sampling %s (pid %d) with the %s sampler (%s) at %u Hz, %s time",
		 name, (int)sampler_pid(s), sampler_name(s), sampler_reason(s),
		 ss->setup.sampler.rate, ss->setup.sampler.idle ? "wall-clock" : "on-CPU");
}

/* The sampler's callback: the front end's, with its error kept. */
static int session_sample(const struct sample *smp, void *ctx)
{
	struct session *ss = ctx;
	int err;

	if (ss->gil && gilshare_add(ss->gil, smp) < 0) {
		ss->err = -ENOMEM;
		return 1;
	}
	/* --gil: py-spy's -g, only what ran holding the GIL (a thread in C
	 * code that released it, or not Python at all, is left out). */
	if (ss->o->gil && smp->gil != 1) {
		ss->gil_dropped += smp->weight;
		return 0;
	}
	err = ss->hooks->on_sample(smp, ss->hooks->ctx);

	if (err < 0) {
		ss->err = err;
		return 1;
	}
	return 0;
}

static enum session_end session_fail(struct session *ss, int err, bool sampler_failed)
{
	ss->err = err;
	ss->sampler_failed = sampler_failed;
	return SESSION_FAILED;
}

static enum session_end session_loop(struct session *ss, const struct session_hooks *h)
{
	uint64_t now, last_progress = 0;

	for (;;) {
		int ev = sampler_poll(ss->sampler, session_sample, ss);

		now = sampler_now_ns();
		if (ev < 0)
			return session_fail(ss, ev, true);
		if (ss->err < 0)
			return session_fail(ss, ss->err, false);
		if (ev == SAMPLER_EXITED)
			return SESSION_EXITED;
		if (ev == SAMPLER_SIGNALLED)
			return SESSION_INTERRUPTED;
		if (h->on_tick) {
			int r = h->on_tick(ss, h->ctx, now);

			if (r < 0)
				return session_fail(ss, r, false);
			if (r > 0)
				return SESSION_STOPPED;
		}
		if (ss->setup.duration > 0 &&
		    (double)(now - ss->start_ns) / 1e9 >= ss->setup.duration)
			return SESSION_DURATION;
		if (ss->show_progress && h->progress &&
		    now - last_progress >= PROGRESS_INTERVAL_NS) {
			h->progress(ss->sampler, h->ctx, (double)(now - ss->start_ns) / 1e9);
			last_progress = now;
		}
	}
}

enum session_end session_run(struct session *ss, const struct session_hooks *hooks)
{
	enum session_end end;

	ss->hooks = hooks;
	ss->err = 0;
	ss->sampler_failed = false;
	ss->start_ns = sampler_now_ns();
	ss->end_ns = 0;
	end = session_loop(ss, hooks);
	ss->end_ns = sampler_now_ns();
	ss->hooks = NULL;
	if (ss->show_progress && hooks->progress)
		fputs("\r\033[K", stderr);
	return end;
}

int session_error(const struct session *ss, bool *sampler_failed)
{
	if (sampler_failed)
		*sampler_failed = ss->sampler_failed;
	return ss->err;
}

struct sampler *session_sampler(const struct session *ss)
{
	return ss->sampler;
}

double session_seconds(const struct session *ss)
{
	uint64_t end = ss->end_ns ? ss->end_ns : sampler_now_ns();

	return (double)(end - ss->start_ns) / 1e9;
}

void session_update_maps(struct session *ss)
{
	if (!ss->sampler)
		return;
	for (size_t i = 0; i < sampler_process_count(ss->sampler); i++) {
		struct maps *maps = NULL;
		pid_t pid = sampler_process_at(ss->sampler, i, NULL, &maps);

		/* Each program a process ran has its own mappings: its
		 * addresses carry its image (addrspace.h). */
		if (maps)
			symbolizer_set_image_maps(ss->sym, pid,
						  sampler_process_image(ss->sampler, i), maps);
	}
}

struct symbolizer *session_symbolizer(const struct session *ss)
{
	return ss->sym;
}

void session_detach(struct session *ss)
{
	if (!ss->sampler)
		return;
	/* The symbolizer takes a reference to each process's mappings, which
	 * outlive the sampler: frames are named after the target runs on. */
	session_update_maps(ss);
	ss->pid = sampler_pid(ss->sampler);
	ss->signal = sampler_signal(ss->sampler);
	/* A started program that ends while it is let go is reaped by the
	 * close: its status comes from there. */
	ss->exit_status = sampler_close_status(ss->sampler);
	ss->sampler = NULL;
}

const struct gilshare *session_gilshare(const struct session *ss)
{
	return ss->gil;
}

uint64_t session_gil_dropped(const struct session *ss)
{
	return ss->gil_dropped;
}

int session_signal(const struct session *ss)
{
	return ss->signal;
}

int session_pending_signal(void)
{
	static const int ends[] = { SIGINT, SIGTERM, SIGHUP };
	sigset_t pending;

	if (sigpending(&pending) < 0)
		return 0;
	for (size_t i = 0; i < sizeof(ends) / sizeof(ends[0]); i++)
		if (sigismember(&pending, ends[i]) == 1)
			return ends[i];
	return 0;
}

/*
 * Reap the exits of tracees other than @pid: threads the sampler could not
 * let go at its close (it lets each go when it stops, but one that exits
 * instead becomes a zombie only its tracer can reap) and traced
 * descendants. Until they are reaped, a process whose thread it was cannot
 * be reaped itself: a blocking waitpid for it would never return. Stops
 * are not touched (the sampler's SIGCHLD handler releases them).
 */
static void reap_tracees(pid_t pid)
{
	for (int i = 0; i < 65536; i++) {
		siginfo_t si;

		memset(&si, 0, sizeof(si));
		if (waitid(P_ALL, 0, &si, WEXITED | WNOHANG | WNOWAIT | __WALL) < 0 ||
		    si.si_pid == 0 || si.si_pid == pid)
			return;
		waitpid(si.si_pid, NULL, WNOHANG | __WALL);
	}
}

/* Wait up to @secs for child @pid to end; true when it has (*@status its
 * wait status, -1 when someone else reaped it). SIGCHLD is blocked (the
 * session blocks it), so the wait is sigtimedwait's. */
static bool wait_child(pid_t pid, double secs, int *status)
{
	uint64_t deadline = sampler_now_ns() + (uint64_t)(secs * 1e9);
	sigset_t chld;

	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	for (;;) {
		struct timespec ts = { 0 };
		uint64_t now, left;
		pid_t r;

		reap_tracees(pid);
		r = waitpid(pid, status, WNOHANG);

		if (r == pid)
			return true;
		if (r < 0 && errno != EINTR) {
			*status = -1;
			return true;
		}
		now = sampler_now_ns();
		if (now >= deadline)
			return false;
		/* Short naps: a SIGCHLD of another child must not make us
		 * miss ours. */
		left = deadline - now;
		ts.tv_nsec = (long)(left < 20000000u ? left : 20000000u);
		sigtimedwait(&chld, NULL, &ts);
	}
}

static void end_program(struct session *ss, struct session_program_end *out);

/* Whether the started program has ended (*@status its wait status, -1 when
 * unknown) or still runs. */
static bool program_ended(const struct session *ss, int *status)
{
	pid_t r;

	*status = ss->exit_status;
	if (ss->exit_status >= 0)
		return true;
	reap_tracees(ss->pid);
	r = waitpid(ss->pid, status, WNOHANG);
	if (r == ss->pid)
		return true;
	/* Not our child any more (reaped, its status unknown): its pid may
	 * be another process's by now, so no signal must be sent to it. */
	*status = -1;
	return r < 0 && errno == ECHILD;
}

void session_end_program(struct session *ss, struct session_program_end *out)
{
	if (ss->program_done) {
		*out = ss->program;
		return;
	}
	ss->program_done = true;
	end_program(ss, &ss->program);
	*out = ss->program;
}

static void end_program(struct session *ss, struct session_program_end *out)
{
	int status = -1;

	*out = (struct session_program_end){ .what = SESSION_PROGRAM_NONE, .status = -1 };
	if (!ss->o->argv || ss->pid <= 0)
		return;
	out->pid = ss->pid;
	if (program_ended(ss, &out->status)) {
		out->what = SESSION_PROGRAM_EXITED;
		return;
	}
	if (ss->o->keep_running) {
		out->what = SESSION_PROGRAM_KEPT;
		return;
	}
	/* Ctrl-C reached the program as well (the terminal signals the whole
	 * foreground group): what it does with it is its own end. */
	if (ss->signal == SIGINT && wait_child(ss->pid, SESSION_INT_GRACE, &status)) {
		out->what = SESSION_PROGRAM_EXITED;
		out->status = status;
		return;
	}
	out->what = SESSION_PROGRAM_STOPPED;
	out->signal = SIGTERM;
	if (kill(ss->pid, SIGTERM) == 0 && wait_child(ss->pid, SESSION_TERM_GRACE, &status)) {
		out->status = status;
		return;
	}
	out->signal = SIGKILL;
	kill(ss->pid, SIGKILL);
	/* SIGKILL cannot be ignored: only tracees left to reap hold it up. */
	while (!wait_child(ss->pid, 1.0, &status))
		;
	out->status = status;
}

int session_program_exit_code(const struct session_program_end *pe)
{
	if (pe->what != SESSION_PROGRAM_EXITED || pe->status < 0)
		return EXIT_CODE_OK;
	if (WIFEXITED(pe->status))
		return WEXITSTATUS(pe->status);
	if (WIFSIGNALED(pe->status))
		return EXIT_CODE_SIGNAL_BASE + WTERMSIG(pe->status);
	return EXIT_CODE_OK;
}

void session_free(struct session *ss)
{
	struct session_program_end pe;

	if (!ss)
		return;
	/* Also on the way out of an error: a program hotspy started does not
	 * outlive the recording unless asked to. */
	session_detach(ss);
	session_end_program(ss, &pe);
	symbolizer_free(ss->sym);
	debug_cache_free(ss->debug_cache);
	pycodes_free(ss->pycodes);
	elf_cache_free(ss->cache);
	gilshare_free(ss->gil);
	free(ss);
}
