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

#endif
