/*
 * cmd_top.c - hotspy top: where a process spends its time, live.
 *
 * The session samples as for record; each sample goes into the top model
 * (ui/topmodel). Every --delay seconds the window closes, the rows are
 * named and sorted, and they are drawn: on the ncurses screen (ui/topview)
 * or, in batch mode (--batch, or stdout not a terminal), printed as plain
 * text. Keys are read between ticks, so sampling never waits for the user.
 * When the program exits the last view stays, with a message, until `q`.
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "commands.h"
#include "config.h"
#include "gilshare.h"
#include "log.h"
#include "procfs.h"
#include "sampler.h"
#include "session.h"
#include "summary.h"
#include "symbols.h"
#include "text.h"
#include "topmodel.h"
#include "topview.h"

#include "banned.h"

/* The target as top(1) would show it, refreshed with each window. */
struct usage_view {
	struct proc_usage now;
	unsigned long long prev_ticks;
	uint64_t prev_ns;
	double cpu_percent;
	bool known;
};

struct top_ctx {
	const struct options *o;
	struct session *ss;
	struct topview *view;        /* NULL in batch mode */
	bool gone;                   /* the target has exited */
	struct top_model *model;
	struct top_state st;
	struct usage_view usage;
	const struct top_row *rows;
	size_t nrows;
	uint64_t win_total;
	uint64_t start_ns;
	char program[64];
	pid_t pid;
	const char *sampler_name;
	char message[256];           /* the bottom line of the screen */
	char lag[640];               /* or, when none, that sampling fell behind */
	char ended[200];             /* how the program ended, once it has */
	/* Samples whose GIL state is known, and of them those that held it:
	 * in the open window, and in the one shown (py-spy top's "GIL"). */
	uint64_t gil_known, gil_held, gil_shown_known, gil_shown_held;
	unsigned refreshes;
	uint64_t delay_ns;
	bool closed;                 /* a window closed and not shown yet */
	bool batch;
};

/*
 * Windows close on a steady clock, by the time each sample was taken, not
 * by when the loop gets to it: naming the first rows can take a good part
 * of a second, and the samples the perf sampler buffered meanwhile still
 * land in the window of their time. 0 or -ENOMEM.
 */
static int clock_to(struct top_ctx *c, uint64_t now)
{
	int r = top_model_clock(c->model, now);

	if (r > 0) {
		c->closed = true;
		c->gil_shown_known = c->gil_known;
		c->gil_shown_held = c->gil_held;
		c->gil_known = c->gil_held = 0;
	}
	return r < 0 ? r : 0;
}

/* Into the model, in the window of the sample's time; 0 or -ENOMEM. */
static int on_sample(const struct sample *smp, void *ctx)
{
	struct top_ctx *c = ctx;

	if (clock_to(c, smp->time_ns) < 0)
		return -ENOMEM;
	if (smp->gil >= 0) {
		c->gil_known += smp->weight;
		c->gil_held += smp->gil > 0 ? smp->weight : 0;
	}
	/* Python's name for the thread where it has one (as record). */
	return top_model_add(c->model, smp->pid, smp->tid,
			     smp->python_name ? smp->python_name : smp->comm, smp->addrs, smp->n,
			     smp->weight) < 0 ? -ENOMEM : 0;
}

static void usage_update(struct usage_view *u, pid_t pid, uint64_t now_ns)
{
	long hz = sysconf(_SC_CLK_TCK);

	if (procfs_proc_usage(pid, &u->now) < 0) {
		u->known = false;
		return;
	}
	if (u->prev_ns && now_ns > u->prev_ns && hz > 0)
		u->cpu_percent = 100.0 * (double)(u->now.cpu_ticks - u->prev_ticks) / (double)hz /
				 ((double)(now_ns - u->prev_ns) / 1e9);
	u->prev_ticks = u->now.cpu_ticks;
	u->prev_ns = now_ns;
	u->known = true;
}

/* Processes told apart by the view (--subprocesses); more are counted
 * in the totals but cannot be picked one by one. */
#define TOP_PROCS_MAX 64
/* Processes named in the scope line, with their shares. */
#define TOP_PROCS_SHOWN 8

/* The processes seen so far, in the order their first thread was: how
 * many (at most @max), their pids in @pids. */
static size_t seen_processes(const struct top_ctx *c, pid_t *pids, size_t max)
{
	const struct top_thread *threads;
	size_t n = top_model_threads(c->model, &threads), np = 0, k;

	for (size_t i = 0; i < n && np < max; i++) {
		for (k = 0; k < np && pids[k] != threads[i].pid; k++)
			;
		if (k == np)
			pids[np++] = threads[i].pid;
	}
	return np;
}

/* The process the view is narrowed to ('p'), or 0 for all. */
static pid_t scoped_process(const struct top_ctx *c)
{
	pid_t pids[TOP_PROCS_MAX];
	size_t np = seen_processes(c, pids, TOP_PROCS_MAX);

	return c->st.process && c->st.process <= np ? pids[c->st.process - 1] : 0;
}

/* The threads 't' cycles through: those of the process picked, or all.
 * Their count; the one at index @i (0-based) in *@out when not NULL. */
static size_t scoped_threads(const struct top_ctx *c, size_t i, const struct top_thread **out)
{
	const struct top_thread *threads;
	size_t n = top_model_threads(c->model, &threads), k = 0;
	pid_t pid = scoped_process(c);

	if (out)
		*out = NULL;
	for (size_t j = 0; j < n; j++) {
		if (pid && threads[j].pid != pid)
			continue;
		if (out && k == i)
			*out = &threads[j];
		k++;
	}
	return k;
}

/* The thread the view is narrowed to, or NULL for all. */
static const struct top_thread *scoped_thread(const struct top_ctx *c)
{
	const struct top_thread *t = NULL;

	if (c->st.thread)
		scoped_threads(c, c->st.thread - 1, &t);
	return t;
}

/* The name of process @pid as the sampler knows it (the program it runs
 * now), escaped for the screen, into @buf. */
static void process_name(const struct top_ctx *c, pid_t pid, char *buf, size_t size)
{
	struct sampler *s = session_sampler(c->ss);
	const char *comm = NULL, *cm;

	for (size_t i = 0; s && i < sampler_process_count(s); i++)
		if (sampler_process_at(s, i, &cm, NULL) == pid)
			comm = cm;      /* the last entry: the program it runs now */
	buf[0] = '\0';
	text_append_safe(buf, size, 0, comm ? comm : "?");
}

/* Name the rows of the closed window for the current keys. 0 or -ENOMEM. */
static int query(struct top_ctx *c)
{
	const struct top_thread *t = scoped_thread(c);
	struct top_query q = {
		.lines = c->st.lines,
		.tid = t ? t->tid : 0,
		.pid = scoped_process(c),
		.sort = c->st.sort,
		.filter = c->st.filter[0] ? c->st.filter : NULL,
		/* Once the program is gone, the window since the last refresh
		 * is a fraction of a second or nothing: the view kept shows the
		 * whole run. */
		.whole_run = c->gone,
	};
	ssize_t n;

	session_update_maps(c->ss);
	n = top_model_rows(c->model, session_symbolizer(c->ss), &q, &c->rows);
	if (n < 0)
		return (int)n;
	c->nrows = (size_t)n;
	if (q.tid)
		c->win_total = c->gone ? top_model_all_total(c->model, q.tid) :
			       top_model_window_total(c->model, q.tid);
	else
		c->win_total = c->gone ? top_model_all_process_total(c->model, q.pid) :
			       top_model_window_process_total(c->model, q.pid);
	return 0;
}

/* What the table shows when it has no row: why it is empty. Empty when
 * there are rows. */
static void empty_table_text(const struct top_ctx *c, char *buf, size_t size)
{
	char filter[sizeof(c->st.filter)];

	buf[0] = '\0';
	if (c->nrows)
		return;
	if (c->st.filter[0]) {
		filter[0] = '\0';
		text_append_safe(filter, sizeof(filter), 0, c->st.filter);
		snprintf(buf, size, "no function matches the filter \"%s\" (Esc or / clears it)",
			 filter);
	} else if (c->win_total == 0) {
		snprintf(buf, size, "no samples %s", c->o->idle ? "yet" :
			 "in this window: the program did not run on a CPU");
	}
}

static void format_bytes(char *buf, size_t size, unsigned long long b)
{
	if (b >= 10ull << 30)
		snprintf(buf, size, "%.1f GiB", (double)b / (double)(1ull << 30));
	else if (b >= 10ull << 20)
		snprintf(buf, size, "%.0f MiB", (double)b / (double)(1ull << 20));
	else
		snprintf(buf, size, "%.1f MiB", (double)b / (double)(1ull << 20));
}

static void header_lines(const struct top_ctx *c, char *title, size_t tsize, char *info,
			 size_t isize, char *scope, size_t ssize)
{
	uint64_t all = top_model_all_total(c->model, 0);
	uint64_t cut = top_model_all_cut(c->model);
	const struct top_thread *t = scoped_thread(c);
	size_t nthreads = scoped_threads(c, 0, NULL);
	pid_t pids[TOP_PROCS_MAX], pid = scoped_process(c);
	size_t np = seen_processes(c, pids, TOP_PROCS_MAX);
	double secs = (double)(sampler_now_ns() - c->start_ns) / 1e9;
	char rss[32], name[64];
	int at;

	name[0] = '\0';
	text_append_safe(name, sizeof(name), 0, c->program);
	if (c->o->all)
		snprintf(title, tsize, "hotspy top: %s  %s sampler, %s time, %u Hz",
			 c->o->npids || c->o->ncomms ? "the processes asked for" : "all processes",
			 c->sampler_name, c->o->idle ? "wall-clock" : "on-CPU", c->o->rate);
	else
		snprintf(title, tsize, "hotspy top: %s (pid %d)  %s sampler, %s time, %u Hz",
			 name, (int)c->pid, c->sampler_name, c->o->idle ? "wall-clock" : "on-CPU",
			 c->o->rate);
	at = snprintf(info, isize, "%" PRIu64 " samples in %.1f s", all, secs);
	if (at < 0)
		at = 0;
	if (c->usage.known) {
		format_bytes(rss, sizeof(rss), c->usage.now.rss_bytes);
		at += snprintf(info + at, isize - (size_t)at < isize ? isize - (size_t)at : 0,
			       "  threads %u running / %u  CPU %.0f%%  RSS %s",
			       c->usage.now.running, c->usage.now.threads, c->usage.cpu_percent, rss);
	}
	if ((size_t)at < isize)
		snprintf(info + at, isize - (size_t)at, "  cut %.1f%%",
			 all ? 100.0 * (double)cut / (double)all : 0.0);
	/* Python: the share of the window's samples that held the GIL. */
	if (c->gil_shown_known)
		snprintf(info + strlen(info), isize - strlen(info), "  GIL %.0f%%",
			 100.0 * (double)c->gil_shown_held / (double)c->gil_shown_known);
	if (c->gone)
		snprintf(info + strlen(info), isize - strlen(info), "  (shares: whole run)");
	scope[0] = '\0';
	if (np > 1 && pid) {
		process_name(c, pid, name, sizeof(name));
		snprintf(scope, ssize, "process %s (%d), %zu of %zu; ", name, (int)pid,
			 c->st.process, np);
	}
	if (t) {
		const struct gilshare *g = session_gilshare(c->ss);
		double gil = g ? gilshare_of(g, t->tid) : -1.0;

		name[0] = '\0';
		text_append_safe(name, sizeof(name), 0, t->name ? t->name : "?");
		snprintf(scope + strlen(scope), ssize - strlen(scope), "thread %s (%d), %zu of %zu",
			 name, (int)t->tid, c->st.thread, nthreads);
		if (gil >= 0)
			snprintf(scope + strlen(scope), ssize - strlen(scope),
				 ", holds the GIL in %.0f%% of its samples", gil);
	} else {
		snprintf(scope + strlen(scope), ssize - strlen(scope),
			 "all %sthreads (%zu seen; 't' for one at a time)", pid ? "its " : "",
			 nthreads);
	}
	/* --subprocesses: each process's share of the window ('p' picks
	 * one), the first TOP_PROCS_SHOWN of them. */
	if (np > 1 && !pid) {
		uint64_t win = c->gone ? top_model_all_process_total(c->model, 0) :
			       top_model_window_process_total(c->model, 0);

		snprintf(scope + strlen(scope), ssize - strlen(scope), "  processes:");
		for (size_t i = 0; i < np && i < TOP_PROCS_SHOWN; i++) {
			uint64_t w = c->gone ? top_model_all_process_total(c->model, pids[i]) :
				     top_model_window_process_total(c->model, pids[i]);

			process_name(c, pids[i], name, sizeof(name));
			snprintf(scope + strlen(scope), ssize - strlen(scope), " %s (%d) %.0f%%%s",
				 name, (int)pids[i], win ? 100.0 * (double)w / (double)win : 0.0,
				 i + 1 < np && i + 1 < TOP_PROCS_SHOWN ? "," : "");
		}
		snprintf(scope + strlen(scope), ssize - strlen(scope), "%s ('p' for one at a time)",
			 np > TOP_PROCS_SHOWN ? " ..." : "");
	}
}

static void print_batch(struct top_ctx *c)
{
	char title[256], info[256], scope[768], row[1024];

	header_lines(c, title, sizeof(title), info, sizeof(info), scope, sizeof(scope));
	top_table_header(row, sizeof(row), c->st.sort, c->st.lines);
	/* The scope line (no key picks a thread here) only for what it adds
	 * with --subprocesses: each process's share. */
	if (c->o->subprocesses || c->o->all)
		printf("%s\n%s\n%s\n\n%s\n", title, info, scope, row);
	else
		printf("%s\n%s\n\n%s\n", title, info, row);
	for (size_t i = 0; i < c->nrows; i++) {
		top_format_row(row, sizeof(row), &c->rows[i], c->win_total, 1.0 / c->o->rate);
		printf("%s\n", row);
	}
	empty_table_text(c, row, sizeof(row));
	if (row[0])
		printf("%s\n", row);
	if (c->message[0])
		printf("%s\n", c->message);
	else if (c->lag[0])
		printf("hotspy: warning: %s\n", c->lag);
	putchar('\n');
	fflush(stdout);
}

static void draw(struct top_ctx *c)
{
	char title[256], info[256], scope[768], empty[256];
	size_t page = topview_page(c->view);
	struct top_screen sc = {
		.title = title, .info = info, .scope = scope,
		.win_total = c->win_total, .period = 1.0 / c->o->rate,
		.message = c->message[0] ? c->message : c->lag[0] ? c->lag : NULL,
	};

	header_lines(c, title, sizeof(title), info, sizeof(info), scope, sizeof(scope));
	if (c->st.scroll + page > c->nrows)
		c->st.scroll = c->nrows > page ? c->nrows - page : 0;
	sc.rows = c->rows;
	sc.nrows = c->nrows;
	empty_table_text(c, empty, sizeof(empty));
	sc.empty = empty[0] ? empty : NULL;
	topview_draw(c->view, &sc, &c->st);
}

/* Whether sampling keeps up, over the whole run so far (the same words
 * as record's summary). */
static void lag_update(struct top_ctx *c)
{
	struct sampler *s = session_sampler(c->ss);
	struct run_summary rs = { 0 };

	c->lag[0] = '\0';
	if (!s)
		return;
	summary_set_lag(&rs, sampler_stats(s));
	summary_lag(&rs, c->o->rate, !c->o->idle && sampler_stats(s)->python_version == 0,
		    c->lag, sizeof(c->lag));
}

/* Show the window closed last. 0 or -ENOMEM. */
static int refresh_view(struct top_ctx *c)
{
	uint64_t now = sampler_now_ns();

	usage_update(&c->usage, c->pid, now);
	lag_update(c);
	if (query(c) < 0)
		return -ENOMEM;
	if (c->batch) {
		print_batch(c);
	} else {
		if (c->o->argv)
			topview_repaint(c->view);
		draw(c);
	}
	return 0;
}

/* Keys until the screen needs no redraw; c->st.quit tells when the user
 * quits. 0 or -ENOMEM. */
static int handle_keys(struct top_ctx *c, int timeout_ms)
{
	pid_t pids[TOP_PROCS_MAX];
	bool changed = false;

	while (topview_key(c->view, &c->st, changed ? 0 : timeout_ms, scoped_threads(c, 0, NULL),
			   seen_processes(c, pids, TOP_PROCS_MAX))) {
		changed = true;
		if (c->st.quit)
			return 0;
		if (c->st.reset) {
			c->st.reset = false;
			if (top_model_reset(c->model) < 0)
				return -ENOMEM;
			c->start_ns = sampler_now_ns();
		}
	}
	if (changed) {
		if (query(c) < 0)
			return -ENOMEM;
		draw(c);
	}
	return 0;
}

static void exit_message(struct top_ctx *c, int status)
{
	if (status >= 0 && WIFEXITED(status))
		snprintf(c->ended, sizeof(c->ended), "the program exited with status %d",
			 WEXITSTATUS(status));
	else if (status >= 0 && WIFSIGNALED(status))
		snprintf(c->ended, sizeof(c->ended), "the program was killed by signal %d (%s)",
			 WTERMSIG(status), strsignal(WTERMSIG(status)));
	else
		snprintf(c->ended, sizeof(c->ended), "the process has exited");
	snprintf(c->message, sizeof(c->message), "%s%s", c->ended,
		 c->batch ? "" : ": the last view stays; q quits");
}

/* After the target is gone: keep the view until q or a terminating signal.
 * 0 or -ENOMEM. */
static int linger(struct top_ctx *c, const sigset_t *signals)
{
	struct timespec zero = { 0, 0 };

	draw(c);
	for (;;) {
		int sig, r = handle_keys(c, 200);

		if (r < 0 || c->st.quit)
			return r;
		while ((sig = sigtimedwait(signals, NULL, &zero)) > 0) {
			if (sig == SIGTSTP)
				sampler_stop_self();   /* Ctrl-Z: nothing is held */
			else if (sig != SIGCHLD)
				return 0;
		}
	}
}

/* Each tick: refresh the view when due, then read the keys. 0 to go on,
 * 1 to stop (q, -n reached), -ENOMEM (c->message says so). */
static int on_tick(struct session *ss, void *ctx, uint64_t now)
{
	struct top_ctx *c = ctx;

	(void)ss;
	/* No sample since the window's end: it closes by the clock. */
	if (clock_to(c, now) < 0) {
		snprintf(c->message, sizeof(c->message), "out of memory");
		return -ENOMEM;
	}
	if (c->closed) {
		c->closed = false;
		if (!c->st.paused && refresh_view(c) < 0) {
			snprintf(c->message, sizeof(c->message), "out of memory");
			return -ENOMEM;
		}
		c->refreshes++;
		if (c->o->iterations && c->refreshes >= c->o->iterations)
			return 1;
	}
	if (c->view) {
		if (handle_keys(c, 0) < 0) {
			snprintf(c->message, sizeof(c->message), "out of memory");
			return -ENOMEM;
		}
		if (c->st.quit)
			return 1;
	}
	return 0;
}

int cmd_top(const struct options *o)
{
	struct top_ctx c = {
		.o = o,
		.st = { .sort = TOP_SORT_OWN_TIME, .lines = o->lines },
		.batch = o->batch || !isatty(STDOUT_FILENO) || !isatty(STDIN_FILENO),
		.delay_ns = (uint64_t)(o->delay * 1e9),
	};
	struct session_hooks hooks = { .on_sample = on_sample, .on_tick = on_tick, .ctx = &c };
	struct session_setup setup;
	struct sampler *s;
	sigset_t signals;
	struct session_program_end pe;
	bool sampler_failed;
	int status = 1, err;

	c.model = top_model_new();
	if (!c.model) {
		log_error(-ENOMEM, "out of memory");
		goto out;
	}
	/* No progress line: the screen or the batch output shows progress. */
	setup = (struct session_setup){
		.kind = o->sampler, .sampler = config_sampler(o, NULL), .duration = o->duration,
	};
	if (session_new(o, &c.ss) < 0 || session_attach(c.ss, &setup) < 0)
		goto out;
	sampler_signal_set(&signals);
	s = session_sampler(c.ss);
	c.pid = sampler_pid(s);
	c.sampler_name = sampler_name(s);
	snprintf(c.program, sizeof(c.program), "%s", sampler_comm(s));
	if (!c.batch) {
		err = topview_open(&c.view);
		if (err < 0) {
			log_error(err, "cannot use the terminal (TERM=%s); use --batch",
				  getenv("TERM") ? getenv("TERM") : "");
			goto out;
		}
	}
	session_describe(c.ss);
	c.start_ns = sampler_now_ns();
	usage_update(&c.usage, c.pid, c.start_ns);
	top_model_set_windows(c.model, c.start_ns, c.delay_ns);
	switch (session_run(c.ss, &hooks)) {
	case SESSION_EXITED:
		c.gone = true;
		exit_message(&c, sampler_exit_status(s));
		/* What was sampled since the last refresh is shown too. */
		if (top_model_next_window(c.model) == 0 && query(&c) == 0 && c.batch)
			print_batch(&c);
		status = 0;
		break;
	case SESSION_FAILED:
		err = session_error(c.ss, &sampler_failed);
		if (sampler_failed)
			snprintf(c.message, sizeof(c.message), "sampling stopped: %s",
				 strerror(-err));
		else if (!c.message[0])
			snprintf(c.message, sizeof(c.message), "out of memory: sampling stopped");
		break;
	case SESSION_INTERRUPTED:
	case SESSION_DURATION:
	case SESSION_STOPPED:
		status = 0;
		break;
	}
	if (c.gone && c.view) {
		/* The target is gone: the last view stays until q. */
		c.st.paused = false;
		if (linger(&c, &signals) < 0)
			snprintf(c.message, sizeof(c.message), "out of memory");
	}
	/* The view first, then the sampler: what detaching logs reaches a
	 * terminal that is no longer curses'. */
	topview_close(c.view);
	c.view = NULL;
	session_detach(c.ss);
	/* A program top started ends when top does (or runs on with
	 * --keep-running); one that ended by itself gives top its status. */
	session_end_program(c.ss, &pe);
	if (status != 0 && c.message[0])
		log_error(-EIO, "%s", c.message);
	else if (c.gone && !o->quiet && !c.batch)
		log_info("%s", c.ended);
	if (!o->quiet && pe.what == SESSION_PROGRAM_STOPPED)
		log_info("stopped the program it started (pid %d) with %s", (int)pe.pid,
			 pe.signal == SIGKILL ? "SIGKILL" : "SIGTERM");
	else if (!o->quiet && pe.what == SESSION_PROGRAM_KEPT)
		log_info("the program (pid %d) runs on (--keep-running)", (int)pe.pid);
	if (status == 0)
		status = session_program_exit_code(&pe);
out:
	topview_close(c.view);
	session_free(c.ss);
	top_model_free(c.model);
	return status;
}
