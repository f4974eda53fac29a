#include "target.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/resource.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "log.h"
#include "procfs.h"
#include "text.h"
#include "banned.h"

int target_comm(pid_t pid, char *buf, size_t size)
{
	char path[64], tmp[TARGET_COMM_MAX];
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%d/comm", (int)pid);
	n = procfs_read_small(path, tmp, sizeof(tmp));
	if (n < 0)
		return n == -ENOENT ? -ESRCH : (int)n;
	snprintf(buf, size, "%s", tmp);
	return 0;
}

int target_exe_name(pid_t pid, char *buf, size_t size)
{
	char path[64], exe[4096];
	const char *base;
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%d/exe", (int)pid);
	n = readlink(path, exe, sizeof(exe) - 1);
	if (n < 0)
		return -errno;
	exe[n] = '\0';
	base = strrchr(exe, '/');
	snprintf(buf, size, "%s", base ? base + 1 : exe);
	return 0;
}

/* The number after "\nKEY:" in /proc/PID/status, or -errno. */
static long status_field(pid_t pid, const char *key)
{
	char path[64], buf[4096], pat[32];
	const char *p;
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	n = procfs_read_small(path, buf, sizeof(buf));
	if (n < 0)
		return (long)n;
	snprintf(pat, sizeof(pat), "\n%s:", key);
	p = strstr(buf, pat);
	if (!p)
		return -EINVAL;
	return strtol(p + strlen(pat), NULL, 10);
}

int target_tracer(pid_t pid)
{
	long v = status_field(pid, "TracerPid");

	return v < 0 ? (int)v : v > INT_MAX ? -EINVAL : (int)v;
}

pid_t target_thread_group(pid_t tid)
{
	long tgid = status_field(tid, "Tgid");

	return tgid > 0 && tgid <= INT_MAX ? (pid_t)tgid : tgid < 0 ? (pid_t)tgid : -EINVAL;
}

int target_owner(pid_t pid, uid_t *uid)
{
	long v = status_field(pid, "Uid");

	if (v < 0)
		return (int)v;
	*uid = (uid_t)v;
	return 0;
}

/* "NAME (uid N)" of @uid into @buf. */
static void user_text(uid_t uid, char *buf, size_t size)
{
	char pwbuf[1024];
	struct passwd pw, *found = NULL;

	if (getpwuid_r(uid, &pw, pwbuf, sizeof(pwbuf), &found) == 0 && found)
		snprintf(buf, size, "%s (uid %u)", found->pw_name, (unsigned)uid);
	else
		snprintf(buf, size, "uid %u", (unsigned)uid);
}

/* Whether hotspy's effective capabilities hold CAP_SYS_PTRACE (19). */
static bool have_sys_ptrace(void)
{
	char buf[4096];
	const char *p;

	if (procfs_read_small("/proc/self/status", buf, sizeof(buf)) <= 0)
		return true;
	p = strstr(buf, "\nCapEff:");
	return !p || (strtoull(p + 8, NULL, 16) >> 19 & 1);
}

/* Whether @pid is hotspy's parent, grandparent... (PPid chain, bounded). */
static bool is_ancestor(pid_t pid)
{
	pid_t p = getppid();

	for (int i = 0; i < 64 && p > 0; i++) {
		long pp;

		if (p == pid)
			return true;
		pp = status_field(p, "PPid");
		p = pp > 0 && pp <= INT_MAX ? (pid_t)pp : 0;
	}
	return false;
}

/*
 * Root refused: the kernel's ptrace check (ptrace_may_access) lets root
 * through with CAP_SYS_PTRACE, so what is left is Yama's scope 3, a missing
 * capability, or a security module's hook (an LSM policy: AppArmor,
 * SELinux, a BPF program guarding the process, a sandbox hotspy runs in).
 */
int target_root_problem(pid_t pid, char *buf, size_t size)
{
	char lsm[256] = "";
	int scope = target_yama_scope();

	if (!have_sys_ptrace()) {
		snprintf(buf, size, "hotspy runs as root without the CAP_SYS_PTRACE capability "
			 "(a container or a capability bounding set removed it) \xe2\x80\x94 "
			 "grant it (docker run --cap-add SYS_PTRACE) or run hotspy where root "
			 "has it");
		return 1;
	}
	if (scope >= 3) {
		snprintf(buf, size, "kernel.yama.ptrace_scope = 3 forbids ptrace to everyone, "
			 "root too, until the next boot \xe2\x80\x94 use the perf sampler "
			 "(--sampler perf) or reboot with a lower scope");
		return 1;
	}
	if (procfs_read_small("/sys/kernel/security/lsm", lsm, sizeof(lsm)) <= 0)
		lsm[0] = '\0';
	snprintf(buf, size, "root with CAP_SYS_PTRACE is refused, so a security policy "
		 "guards this process%s%s%s (a security module's rule, or a sandbox that "
		 "hotspy runs in and process %d is outside of)%s \xe2\x80\x94 nothing "
		 "hotspy can change: run it outside that policy, or profile another process",
		 lsm[0] ? " (security modules: " : "", lsm, lsm[0] ? ")" : "", (int)pid,
		 pid == 1 ? "; process 1 is this system's init" :
		 is_ancestor(pid) ? "; it is one of hotspy's own ancestors, which "
				     "may have set that sandbox up" : "");
	return 1;
}

int target_access_problem(pid_t pid, char *buf, size_t size)
{
	char owner[128], me[128];
	uid_t uid = 0;
	int scope;

	if (geteuid() == 0)
		return 0;
	if (target_owner(pid, &uid) == 0 && uid != geteuid()) {
		user_text(uid, owner, sizeof(owner));
		user_text(geteuid(), me, sizeof(me));
		snprintf(buf, size, "process %d belongs to %s and hotspy runs as %s: only "
			 "root (or a holder of CAP_SYS_PTRACE) may profile another user's "
			 "process \xe2\x80\x94 run hotspy as root or as that user",
			 (int)pid, owner, me);
		return 1;
	}
	scope = target_yama_scope();
	if (scope >= 1) {
		snprintf(buf, size, "kernel.yama.ptrace_scope = %d %s \xe2\x80\x94 start the "
			 "program under hotspy (hotspy record -- CMD), run as root, or "
			 "sysctl -w kernel.yama.ptrace_scope=0", scope,
			 scope >= 3 ? "forbids ptrace to everyone" :
			 scope == 2 ? "lets only root trace" :
			 "lets a process trace only its own children");
		return 1;
	}
	return 0;
}

/* The state letter and the kernel's flags of thread @tid of @pid, from
 * /proc/PID/task/TID/stat. 0 or -errno. */
static int thread_stat(pid_t pid, pid_t tid, char *state, unsigned long *flags)
{
	char path[96], buf[1024], comm[TARGET_COMM_MAX];
	const char *p;
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%d/task/%d/stat", (int)pid, (int)tid);
	n = procfs_read_small(path, buf, sizeof(buf));
	if (n <= 0)
		return n == -ENOENT || n == 0 ? -ESRCH : (int)n;
	if (target_parse_stat(buf, (size_t)n, state, comm, sizeof(comm)) < 0)
		return -EINVAL;
	/* After ") S": ppid pgrp session tty_nr tpgid flags. */
	p = strrchr(buf, ')');
	*flags = 0;
	if (p) {
		p += 3;
		for (int i = 0; i < 5 && p; i++) {
			p = strchr(p + 1, ' ');
		}
		if (p)
			*flags = strtoul(p + 1, NULL, 10);
	}
	return 0;
}

static bool state_dead(char state)
{
	return state == 'Z' || state == 'X' || state == 'x';
}

pid_t target_live_thread(pid_t pid)
{
	char path[64], state;
	unsigned long flags;
	struct dirent *de;
	pid_t live = -ESRCH;
	DIR *dir;

	if (thread_stat(pid, pid, &state, &flags) == 0 && !state_dead(state))
		return pid;
	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	dir = opendir(path);
	if (!dir)
		return -ESRCH;
	/* A process has many threads at most; the first live one does. */
	for (int i = 0; live < 0 && i < 100000 && (de = readdir(dir)); i++) {
		long tid = strtol(de->d_name, NULL, 10);

		if (tid > 0 && tid <= INT_MAX && tid != pid &&
		    thread_stat(pid, (pid_t)tid, &state, &flags) == 0 && !state_dead(state))
			live = (pid_t)tid;
	}
	closedir(dir);
	return live;
}

/* PF_KTHREAD (include/linux/sched.h): the kernel's own threads. */
#define TARGET_PF_KTHREAD 0x00200000ul

int target_check(pid_t pid, char *why, size_t size)
{
	char state, pcomm[TARGET_COMM_MAX] = "?", safe[TARGET_COMM_MAX * 4] = "";
	unsigned long flags;
	long ppid;

	if (pid == getpid()) {
		snprintf(why, size, "that is hotspy itself");
		return -EINVAL;
	}
	if (thread_stat(pid, pid, &state, &flags) < 0)
		return 0;       /* the attach itself says what is wrong */
	if (flags & TARGET_PF_KTHREAD) {
		snprintf(why, size, "it is a kernel thread; only user processes can be "
			 "profiled");
		return -EINVAL;
	}
	if (!state_dead(state) || target_live_thread(pid) > 0)
		return 0;
	ppid = status_field(pid, "PPid");
	if (ppid > 0 && ppid <= INT_MAX)
		target_comm((pid_t)ppid, pcomm, sizeof(pcomm));
	/* A name from another process: escaped before it reaches a terminal. */
	text_append_safe(safe, sizeof(safe), 0, pcomm);
	snprintf(why, size, "it has exited: it is a zombie waiting for its parent "
		 "(process %ld, %s) to collect its exit status, and has nothing left to "
		 "profile", ppid, safe);
	return -ESRCH;
}

int target_yama_scope(void)
{
	char buf[16];

	if (procfs_read_small("/proc/sys/kernel/yama/ptrace_scope", buf, sizeof(buf)) <= 0)
		return -1;
	return atoi(buf);
}

int target_parse_stat(const char *text, size_t len, char *state, char *comm,
		      size_t comm_size)
{
	const char *open_paren = memchr(text, '(', len);
	const char *close_paren = NULL, *p;
	size_t name_len;

	for (p = text + len; p > text; p--) {
		if (p[-1] == ')') {
			close_paren = p - 1;
			break;
		}
	}
	if (!open_paren || !close_paren || close_paren < open_paren ||
	    (size_t)(text + len - close_paren) < 3)
		return -EINVAL;
	name_len = (size_t)(close_paren - open_paren - 1);
	if (comm_size) {
		if (name_len >= comm_size)
			name_len = comm_size - 1;
		memcpy(comm, open_paren + 1, name_len);
		comm[name_len] = '\0';
	}
	*state = close_paren[2];
	return 0;
}

int target_load_vdso(pid_t pid, const struct maps *maps, struct elf_cache *cache)
{
	const struct mapping *m = NULL;
	struct elf_file *ef;
	struct iovec local, remote;
	size_t i, len;
	void *buf;
	ssize_t n;

	for (i = 0; i < maps_count(maps); i++) {
		if (strcmp(maps_at(maps, i)->path, "[vdso]") == 0) {
			m = maps_at(maps, i);
			break;
		}
	}
	if (!m)
		return -ENOENT;
	len = (size_t)(m->end - m->start);
	if (len > (1u << 20))
		return -EFBIG;
	buf = malloc(len);
	if (!buf)
		return -ENOMEM;
	local.iov_base = buf;
	local.iov_len = len;
	remote.iov_base = (void *)(uintptr_t)m->start;
	remote.iov_len = len;
	n = process_vm_readv(pid, &local, 1, &remote, 1, 0);
	/* A main thread that has exited has no memory: through a live one. */
	if (n < 0 && errno == ESRCH) {
		pid_t live = target_live_thread(pid);

		if (live > 0 && live != pid)
			n = process_vm_readv(live, &local, 1, &remote, 1, 0);
	}
	if (n != (ssize_t)len) {
		free(buf);
		return n < 0 ? -errno : -EFAULT;
	}
	ef = elf_file_from_memory(buf, len);
	free(buf);
	if (!ef)
		return -errno;
	elf_cache_put_vdso(cache, pid, ef);
	return 0;
}

int target_read(pid_t pid, uint64_t addr, void *buf, size_t len)
{
	struct iovec local = { .iov_base = buf, .iov_len = len };
	struct iovec remote = { .iov_base = (void *)(uintptr_t)addr, .iov_len = len };
	ssize_t n;

	if (len == 0)
		return 0;
	if (addr > UINT64_MAX - len)
		return -EFAULT;
	n = process_vm_readv(pid, &local, 1, &remote, 1, 0);
	if (n < 0)
		return -errno;
	return (size_t)n == len ? 0 : -EFAULT;
}

int target_read_window(pid_t pid, uint64_t addr, size_t len, uint64_t lo, size_t page,
		       uint8_t *buf, uint64_t *start)
{
	struct iovec local[TARGET_WINDOW_PAGES + 2], remote[TARGET_WINDOW_PAGES + 2];
	uint64_t below[TARGET_WINDOW_PAGES + 2];   /* each iovec's start */
	uint64_t p;
	size_t n = 0;
	ssize_t got;

	if (len == 0 || lo > addr || addr > UINT64_MAX - len || !page || (page & (page - 1)))
		return -EINVAL;
	/* The bytes asked for first: a failure past them loses nothing. */
	local[n] = (struct iovec){ buf + (addr - lo), len };
	remote[n] = (struct iovec){ (void *)(uintptr_t)addr, len };
	below[n++] = addr;
	p = addr & ~(uint64_t)(page - 1);
	if (p < lo)
		p = lo;
	if (p < addr) {
		local[n] = (struct iovec){ buf + (p - lo), addr - p };
		remote[n] = (struct iovec){ (void *)(uintptr_t)p, addr - p };
		below[n++] = p;
	}
	/* Whole pages downwards, nearest first: the copy is contiguous from
	 * the lowest one read whole up to @addr + @len. */
	while (p > lo && n < TARGET_WINDOW_PAGES + 2) {
		uint64_t q = p - lo >= page ? p - page : lo;

		local[n] = (struct iovec){ buf + (q - lo), p - q };
		remote[n] = (struct iovec){ (void *)(uintptr_t)q, p - q };
		below[n++] = q;
		p = q;
	}
	got = process_vm_readv(pid, local, n, remote, n, 0);
	if (got < 0)
		return -errno;
	if ((size_t)got < len)
		return -EFAULT;
	/* The lowest start of the iovecs copied whole, in order. */
	*start = addr;
	for (size_t i = 0; i < n; i++) {
		if ((size_t)got < local[i].iov_len)
			break;
		got -= (ssize_t)local[i].iov_len;
		*start = below[i];
	}
	return 0;
}

/* target_spawn_set_nice's value; spawn_nice_set false: inherit hotspy's. */
static int spawn_nice;
static bool spawn_nice_set;

void target_spawn_set_nice(int nice)
{
	spawn_nice = nice;
	spawn_nice_set = true;
}

/* In the child: wait for the tracer, then become the command. */
static void __attribute__((noreturn))
spawn_child(char *const *argv, int sync_fd, int err_fd)
{
	sigset_t set;
	char go;
	int err;

	/* The caller blocks the signals it waits for; the program must not
	 * inherit that mask. */
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGCHLD);
	sigaddset(&set, SIGTSTP);
	sigprocmask(SIG_UNBLOCK, &set, NULL);
	if (spawn_nice_set)
		setpriority(PRIO_PROCESS, 0, spawn_nice);

	if (read(sync_fd, &go, 1) != 1)
		_exit(127);
	execvp(argv[0], argv);
	err = errno;
	if (write(err_fd, &err, sizeof(err)) < 0)
		_exit(127);
	_exit(127);
}

/*
 * The child died of a signal before its exec: a signal sent to the whole
 * process group (a Ctrl-C typed while hotspy starts the program) reached
 * it while it waited for the tracer. Said as such, with -EINTR, rather
 * than as a failure to run or to trace it.
 */
static int spawn_killed(const char *prog, int status)
{
	return log_error(-EINTR, "cannot run %s: it was killed by signal %d (%s) before it "
			 "started", prog, WTERMSIG(status), strsignal(WTERMSIG(status)));
}

pid_t target_spawn(char *const *argv, unsigned long options)
{
	int sync_pipe[2], err_pipe[2], status, child_err = 0;
	pid_t pid;
	ssize_t n;

	if (pipe2(sync_pipe, O_CLOEXEC) < 0)
		return log_error(-errno, "cannot start %s: pipe: %s", argv[0], strerror(errno));
	if (pipe2(err_pipe, O_CLOEXEC) < 0) {
		int err = errno;

		close(sync_pipe[0]);
		close(sync_pipe[1]);
		return log_error(-err, "cannot start %s: pipe: %s", argv[0], strerror(err));
	}
	pid = fork();
	if (pid == 0) {
		close(sync_pipe[1]);
		close(err_pipe[0]);
		spawn_child(argv, sync_pipe[0], err_pipe[1]);
	}
	close(sync_pipe[0]);
	close(err_pipe[1]);
	if (pid < 0) {
		int err = errno;

		close(sync_pipe[1]);
		close(err_pipe[0]);
		return log_error(-err, "cannot start %s: fork: %s", argv[0], strerror(err));
	}

	/* Seized while it waits on the pipe: traced before it execs. */
	if (ptrace(PTRACE_SEIZE, pid, NULL, (void *)(uintptr_t)(options | PTRACE_O_TRACEEXEC)) < 0) {
		int err = errno;

		close(sync_pipe[1]);
		close(err_pipe[0]);
		waitpid(pid, &status, 0);
		/* A Ctrl-C to the whole group can kill the child before it is
		 * seized: that, not the ptrace error, is what happened. */
		if (WIFSIGNALED(status))
			return spawn_killed(argv[0], status);
		return log_error(-err, "cannot trace %s: ptrace: %s", argv[0], strerror(err));
	}
	if (write(sync_pipe[1], "g", 1) != 1)
		log_debug("sync pipe write failed: %s", strerror(errno));
	close(sync_pipe[1]);

	/* Until the exec, the only events are the exec itself, the child's
	 * exit when execvp failed, or signals sent to it, which we pass on. */
	for (;;) {
		if (waitpid(pid, &status, __WALL) < 0) {
			if (errno == EINTR)
				continue;
			child_err = errno;
			break;
		}
		if (WIFEXITED(status) || WIFSIGNALED(status)) {
			n = read(err_pipe[0], &child_err, sizeof(child_err));
			if (n != (ssize_t)sizeof(child_err)) {
				if (WIFSIGNALED(status)) {
					close(err_pipe[0]);
					return spawn_killed(argv[0], status);
				}
				child_err = ECHILD;
			}
			break;
		}
		if (status >> 8 == (SIGTRAP | (PTRACE_EVENT_EXEC << 8))) {
			close(err_pipe[0]);
			return pid;
		}
		if (status >> 16 == 0)
			ptrace(PTRACE_CONT, pid, NULL, (void *)(uintptr_t)WSTOPSIG(status));
		else
			ptrace(PTRACE_CONT, pid, NULL, NULL);
	}
	close(err_pipe[0]);
	return log_error(-child_err, "cannot run %s: %s%s", argv[0], strerror(child_err),
			 child_err == ENOENT ? " (check the name and PATH)" :
			 child_err == EACCES ? " (is it executable?)" : "");
}

/* Append the child processes of every thread of @pid to *@list (from
 * /proc/PID/task/TID/children). 0 or -errno. */
static int list_children(pid_t pid, pid_t **list, size_t *n)
{
	char path[96], buf[4096];
	struct dirent *de;
	DIR *dir;

	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	dir = opendir(path);
	if (!dir)
		return errno == ENOENT ? 0 : -errno;
	while ((de = readdir(dir))) {
		char *p, *end;

		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/%d/task/%.16s/children", (int)pid, de->d_name);
		if (procfs_read_small(path, buf, sizeof(buf)) <= 0)
			continue;
		for (p = buf;; p = end) {
			long kid = strtol(p, &end, 10);
			pid_t *bigger;

			if (end == p || kid <= 0)
				break;
			if (*n % 16 == 0) {
				bigger = realloc(*list, (*n + 16) * sizeof(*bigger));
				if (!bigger) {
					closedir(dir);
					return -ENOMEM;
				}
				*list = bigger;
			}
			(*list)[(*n)++] = (pid_t)kid;
		}
	}
	closedir(dir);
	return 0;
}

/* Every descendant of @pid: children first, then theirs (breadth first). */
int target_descendants(pid_t pid, pid_t **list, size_t *n)
{
	int err = list_children(pid, list, n);

	for (size_t i = 0; err == 0 && i < *n && *n < 65536; i++)
		err = list_children((*list)[i], list, n);
	return err;
}
