/*
 * target.h - facts about a live process read from /proc, and starting a
 * command so that it is traced from its first instruction.
 */
#ifndef HOTSPY_TARGET_H
#define HOTSPY_TARGET_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "elf_cache.h"
#include "maps.h"

#define TARGET_COMM_MAX 64

/* Read /proc/PID/comm into @buf (NUL-terminated, newline removed).
 * 0 or -errno (-ESRCH when the process does not exist). */
int target_comm(pid_t pid, char *buf, size_t size);

/* The file name of the program @pid runs (the last part of /proc/PID/exe,
 * " (deleted)" included when it was), NUL-terminated in @buf. 0 or -errno. */
int target_exe_name(pid_t pid, char *buf, size_t size);

/*
 * Append every descendant process of @pid to *@list (grown with realloc;
 * *@n entries): its children (from /proc/PID/task/TID/children, which needs
 * CONFIG_PROC_CHILDREN), then theirs. The caller frees *@list. 0 or -errno.
 */
int target_descendants(pid_t pid, pid_t **list, size_t *n);

/* TracerPid from /proc/PID/status: the tracer's pid, 0 when not traced,
 * -errno on error. */
int target_tracer(pid_t pid);

/* The process thread @tid belongs to (Tgid in /proc/TID/status: @tid
 * itself for a process's main thread), or -errno (-ESRCH: no such thread). */
pid_t target_thread_group(pid_t tid);

/* The real user id of @pid (Uid in /proc/PID/status) into *@uid. 0 or
 * -errno. */
int target_owner(pid_t pid, uid_t *uid);

/*
 * A thread of process @pid that has not exited: @pid itself while its main
 * thread lives, else the first other live thread (the main thread of a
 * process may end with pthread_exit while the others run on: it stays a
 * zombie, with no memory, maps or registers to read, until they all end).
 * The thread or -ESRCH when none lives.
 */
pid_t target_live_thread(pid_t pid);

/*
 * Whether @pid is a process hotspy can profile, as far as /proc tells
 * before any attach: not hotspy itself, not a kernel thread, not a zombie.
 * 0, or -errno with the reason in words in @why (for "cannot attach to
 * PID (NAME): WHY"): -EINVAL for hotspy itself and kernel threads, -ESRCH
 * for a process that has exited.
 */
int target_check(pid_t pid, char *why, size_t size);

/* kernel.yama.ptrace_scope (0-3), or -1 when the kernel has no Yama. */
int target_yama_scope(void);

/*
 * Why this user may not trace @pid, when a reason is known, in words with
 * the remedies that apply (into @buf): the process is another user's, or
 * Yama's ptrace_scope forbids it. 1 when a reason was written, 0 when none
 * is known (root, or the same user without Yama's restriction: something
 * else, a security module or seccomp, refused).
 */
int target_access_problem(pid_t pid, char *buf, size_t size);

/*
 * Why root was refused access to @pid (EPERM/EACCES from ptrace, perf
 * events or /proc/PID/maps), in words with what can be done (into @buf):
 * hotspy lacks CAP_SYS_PTRACE, Yama's ptrace_scope is 3, or else a security
 * policy guards the process (a security module, a sandbox hotspy runs in).
 * Returns 1 (a reason is always written).
 */
int target_root_problem(pid_t pid, char *buf, size_t size);

/*
 * Parse the contents of /proc/PID/task/TID/stat: store the thread state
 * letter in *@state and its name (bounded, NUL-terminated) in @comm.
 * The name may contain spaces and ')' so it is taken up to the last ')'.
 * 0 or -EINVAL when the text does not parse.
 */
int target_parse_stat(const char *text, size_t len, char *state, char *comm,
		      size_t comm_size);

/*
 * Copy @len bytes at address @addr of process @pid into @buf with one
 * process_vm_readv (no ptrace stop needed). 0; -EFAULT when the range is
 * not wholly mapped (a short read counts as a failure); -ESRCH, -EPERM...
 * Safe on any address: the target is never written or stopped.
 */
int target_read(pid_t pid, uint64_t addr, void *buf, size_t len);

/*
 * Copy [@addr, @addr + @len) of process @pid and, in the same
 * process_vm_readv, the bytes below it down to @lo (@lo <= @addr), where
 * they can be had: the part of @addr's page below @addr, then whole pages
 * downwards, each its own iovec so that an unmapped one ends the copy
 * without losing those above it. Byte lo + i goes to @buf[i] (@buf has
 * room for @addr + @len - @lo bytes). The lowest address copied goes in
 * *@start (in [@lo, @addr]: the bytes from there to @addr + @len are in
 * @buf). Returns 0, -EFAULT when [@addr, @addr + @len) could not be read
 * whole, -EINVAL, or process_vm_readv's -errno (-ESRCH, -EPERM...).
 * @page is the page size, a power of two; at most TARGET_WINDOW_PAGES
 * whole pages below @addr's are read. Never stops or writes the target.
 */
#define TARGET_WINDOW_PAGES 15
int target_read_window(pid_t pid, uint64_t addr, size_t len, uint64_t lo, size_t page,
		       uint8_t *buf, uint64_t *start);

/*
 * Copy the [vdso] image of @pid (found in @maps) and register it in @cache,
 * so the vdso can be unwound through and named. 0, -ENOENT when the process
 * has no vdso, or -errno.
 */
int target_load_vdso(pid_t pid, const struct maps *maps, struct elf_cache *cache);

/*
 * Fork and exec @argv (searched in PATH) with PTRACE_SEIZE applied before the
 * exec, so that nothing of the new program runs untraced. Waits for the exec
 * and leaves the child stopped at it (PTRACE_EVENT_EXEC) for the caller to
 * resume. @options are the PTRACE_O_* options to seize with (TRACEEXEC is
 * added). Returns the child's pid, or -errno after logging why (for a
 * command that cannot be run, the error of execvp).
 */
pid_t target_spawn(char *const *argv, unsigned long options);

/*
 * The nice value a program started by target_spawn runs at: hotspy's own
 * before it raised its priority to sample (session.c), so that the program
 * keeps its caller's. Lowering a priority is always allowed, so the child's
 * setpriority cannot fail for that reason. Not called: the child inherits
 * hotspy's.
 */
void target_spawn_set_nice(int nice);

#endif
