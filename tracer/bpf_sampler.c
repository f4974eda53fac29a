/*
 * The BPF sampler: the perf sampler's task-clock events, each with the
 * program of bpf/sampler.bpf.c as its sample handler. The program copies
 * the user registers and the top of the user stack at the sample instant,
 * in the thread's own context, into a BPF ring buffer; perf writes no
 * sample of its own. Threads are followed, and maps and names kept, by the
 * perf sampler's code (perf_sampler.c), which also turns each record into
 * the snapshot every sampler produces. The target is never stopped nor
 * traced.
 *
 * What BPF adds over perf events (docs/bpf.md): a copy of any memory at
 * the sample instant, not only the stack: a Python thread's frame chain
 * too (bpf_python in perf_sampler.c).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bpf_capture.h"
#include "bpf_record.h"
#include "log.h"
#include "procfs.h"
#include "sampler_backend.h"
#include "banned.h"

/* include/uapi/linux/capability.h */
#define CAP_SYS_ADMIN_BIT 21
#define CAP_PERFMON_BIT 38
#define CAP_BPF_BIT 39

/* Bytes of ring per CPU: a record of a Python thread takes about 196 KiB
 * of it (64 KiB of stack and 128 KiB of Python memory are reserved whatever
 * is copied), another thread's 68 KiB: 60 records of a Python thread, 60 ms
 * of one CPU at 1000 Hz, to last between two of hotspy's 10 ms drains when
 * hotspy is short of CPU. */
#define RING_PER_CPU (12u << 20)

/* Does hotspy hold capability @bit (its effective set)? */
static bool has_cap(int bit)
{
	char buf[4096], *p;
	unsigned long long eff;

	if (procfs_read_small("/proc/self/status", buf, sizeof(buf)) <= 0)
		return false;
	p = strstr(buf, "\nCapEff:");
	if (!p)
		return false;
	eff = strtoull(p + 8, NULL, 16);
	return (eff >> bit) & 1;
}

/* The kernel's lockdown mode when it forbids reading memory with BPF
 * ("integrity" or "confidentiality", from security/lockdown), else "". */
static void lockdown_mode(char *buf, size_t size)
{
	char text[128], *open, *close;

	buf[0] = '\0';
	if (procfs_read_small("/sys/kernel/security/lockdown", text, sizeof(text)) <= 0)
		return;
	open = strchr(text, '[');
	close = open ? strchr(open, ']') : NULL;
	if (!open || !close || close - open < 2 || strncmp(open + 1, "none", 4) == 0)
		return;
	snprintf(buf, size, "%.*s", (int)(close - open - 1), open + 1);
}

/* Log why the kernel refused the program (@err, -errno), and what to do. */
static int refusal(int err)
{
	char mode[32], level[16];
	bool bpf_cap = has_cap(CAP_BPF_BIT) || has_cap(CAP_SYS_ADMIN_BIT);
	bool perfmon = has_cap(CAP_PERFMON_BIT) || has_cap(CAP_SYS_ADMIN_BIT);

	if (err == -EPERM || err == -EACCES) {
		lockdown_mode(mode, sizeof(mode));
		if (procfs_read_small("/proc/sys/kernel/unprivileged_bpf_disabled", level,
				      sizeof(level)) <= 0)
			snprintf(level, sizeof(level), "?");
		level[strcspn(level, "\n")] = '\0';
		/* Root without them: a container, or a capability bounding
		 * set; running as root is then no remedy. */
		if ((!bpf_cap || !perfmon) && geteuid() == 0)
			return log_error(err, "cannot load the BPF sampler: hotspy runs as root "
					 "but lacks %s (a container, or a capability bounding set) "
					 "\xe2\x80\x94 grant CAP_BPF and CAP_PERFMON (docker run "
					 "--cap-add BPF --cap-add PERFMON), or use --sampler perf",
					 !bpf_cap && !perfmon ? "CAP_BPF and CAP_PERFMON" :
					 !bpf_cap ? "CAP_BPF" : "CAP_PERFMON");
		if (!bpf_cap || !perfmon)
			return log_error(err, "cannot load the BPF sampler: hotspy lacks %s "
					 "(kernel.unprivileged_bpf_disabled = %s) \xe2\x80\x94 run as "
					 "root, or give hotspy CAP_BPF and CAP_PERFMON (setcap "
					 "cap_bpf,cap_perfmon+ep), or use --sampler perf",
					 !bpf_cap && !perfmon ? "CAP_BPF and CAP_PERFMON" :
					 !bpf_cap ? "CAP_BPF" : "CAP_PERFMON", level);
		if (mode[0])
			return log_error(err, "cannot load the BPF sampler: the kernel is locked "
					 "down (%s), which forbids BPF programs that read memory "
					 "\xe2\x80\x94 use --sampler perf", mode);
		return log_error(err, "cannot load the BPF sampler: %s, though hotspy holds "
				 "CAP_BPF and CAP_PERFMON (a seccomp filter or a security module "
				 "may forbid bpf(2)) \xe2\x80\x94 use --sampler perf", strerror(-err));
	}
	if (err == -ENOSYS)
		return log_error(err, "cannot load the BPF sampler: this kernel has no BPF "
				 "system call (CONFIG_BPF_SYSCALL) \xe2\x80\x94 use --sampler perf");
	if (err == -ENOMEM)
		return log_error(err, "cannot load the BPF sampler: out of memory for its "
				 "ring buffer (or RLIMIT_MEMLOCK on a kernel before 5.11) "
				 "\xe2\x80\x94 use --sampler perf");
	return log_error(err, "cannot load the BPF sampler: the kernel rejected its program "
			 "(%s; -vv shows the verifier's words) \xe2\x80\x94 use --sampler perf",
			 strerror(-err));
}

bool bpf_sampler_usable(char *why, size_t size)
{
	char mode[32];

	if (!bpf_capture_built()) {
		snprintf(why, size, "this hotspy was built without the BPF sampler");
		return false;
	}
	if (!(has_cap(CAP_SYS_ADMIN_BIT) || (has_cap(CAP_BPF_BIT) && has_cap(CAP_PERFMON_BIT)))) {
		snprintf(why, size, "the BPF sampler needs CAP_BPF and CAP_PERFMON (or root)");
		return false;
	}
	lockdown_mode(mode, sizeof(mode));
	if (mode[0]) {
		snprintf(why, size, "the kernel is locked down (%s), which forbids BPF to read "
			 "memory", mode);
		return false;
	}
	return true;
}

static int bpf_open(struct sampler *s)
{
	struct bpf_capture *cap;
	long ncpus = sysconf(_SC_NPROCESSORS_CONF);
	int err;

	if (!bpf_capture_built())
		return log_error(-ENOTSUP, "the BPF sampler was not built into this hotspy "
				 "(clang, bpftool or libbpf missing at build time, or "
				 "-DHOTSPY_BPF=OFF) "
				 "\xe2\x80\x94 use --sampler perf, or install them "
				 "(scripts/setup.sh) and build again");
	err = bpf_capture_open(&cap, s->cfg.stack_size,
			       (size_t)(ncpus > 0 ? ncpus : 1) * RING_PER_CPU);
	if (err < 0)
		return refusal(err);
	return perf_sampler_open_bpf(s, cap);
}

const struct sampler_ops bpf_sampler_ops = {
	.name = "bpf",
	.open = bpf_open,
	.poll = perf_sampler_poll,
	.close = perf_sampler_close,
	.thread_count = perf_sampler_thread_count,
};
