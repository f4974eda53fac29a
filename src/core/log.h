/*
 * log.h - the one logging sink of hotspy.
 *
 * Every message of the program goes through here. By default messages go to
 * stderr prefixed "hotspy: "; while the top view owns the terminal it installs
 * a sink that puts them on its status line instead (log_set_sink).
 *
 * Messages are lowercase and say what failed, why, and what to do:
 *   "cannot attach to 4242: operation not permitted (run as root ...)"
 */
#ifndef HOTSPY_LOG_H
#define HOTSPY_LOG_H

enum log_level { LOG_ERROR, LOG_WARN, LOG_INFO, LOG_DEBUG };

typedef void (*log_sink_fn)(enum log_level level, const char *msg, void *ctx);

/* Messages above @level are dropped. Default LOG_INFO. */
void log_set_level(enum log_level level);
enum log_level log_get_level(void);

/* Install a sink (NULL restores stderr). @msg has no trailing newline. */
void log_set_sink(log_sink_fn fn, void *ctx);

void log_msg(enum log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/*
 * Log an error and return @err in one step, so a helper can say
 *   return log_error(-errno, "cannot open %s: %s", path, strerror(errno));
 * @err is returned unchanged (normally a negative errno).
 */
int log_error(int err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#define log_warn(...)  log_msg(LOG_WARN, __VA_ARGS__)
#define log_info(...)  log_msg(LOG_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)

#endif
